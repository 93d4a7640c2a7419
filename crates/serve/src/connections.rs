//! The accept loop, so that slow or idle clients cannot lock others out: HTTP/1 connections with
//! a header-read timeout (which also ends idle keep-alive connections), at most
//! `max_connections` open (below the open-file limit), the longest-idle connection closed to
//! admit a new one at the limit, and a graceful drain on shutdown.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;
use tower::ServiceExt;

/// Open files kept for everything but connections: the audit log, the store, the bundle,
/// DataFusion's spill files, the runtime.
const FILE_RESERVE: u64 = 128;

/// What the accept loop enforces.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// To send a request's headers, and how long a keep-alive connection may sit idle.
    pub header_timeout: Duration,
    pub max_connections: usize,
}

impl Limits {
    /// `configured` connections, or (0) the open-file limit less a reserve.
    pub fn new(header_timeout: Duration, configured: usize) -> Limits {
        let max_connections = match configured {
            0 => open_file_limit().saturating_sub(FILE_RESERVE).max(16) as usize,
            n => n,
        };
        Limits {
            header_timeout,
            max_connections,
        }
    }
}

/// The soft open-file limit, from Linux's `/proc/self/limits` (1,024, the usual default, when
/// unknown or unlimited).
fn open_file_limit() -> u64 {
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    limits
        .lines()
        .find_map(|l| l.strip_prefix("Max open files"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|soft| soft.parse().ok())
        .unwrap_or(1024)
}

/// One open connection: requests in flight, when it last was active, and a signal to close it.
struct Conn {
    in_flight: AtomicUsize,
    /// Milliseconds since the loop started.
    last_active: AtomicU64,
    close: Notify,
}

/// The open connections, by id.
struct Open {
    started: Instant,
    conns: Mutex<HashMap<u64, Arc<Conn>>>,
}

impl Open {
    fn now(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    fn len(&self) -> usize {
        self.conns.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    fn insert(&self, id: u64) -> Arc<Conn> {
        let conn = Arc::new(Conn {
            in_flight: AtomicUsize::new(0),
            last_active: AtomicU64::new(self.now()),
            close: Notify::new(),
        });
        let mut conns = self.conns.lock().unwrap_or_else(|p| p.into_inner());
        conns.insert(id, conn.clone());
        conn
    }

    fn remove(&self, id: u64) {
        let mut conns = self.conns.lock().unwrap_or_else(|p| p.into_inner());
        conns.remove(&id);
    }

    /// Ask the longest-idle connection without a request in flight to close; false when every
    /// connection is busy.
    fn evict_idle(&self) -> bool {
        let conns = self.conns.lock().unwrap_or_else(|p| p.into_inner());
        let idle = conns
            .values()
            .filter(|c| c.in_flight.load(Ordering::Acquire) == 0)
            .min_by_key(|c| c.last_active.load(Ordering::Relaxed));
        match idle {
            Some(c) => {
                c.close.notify_one();
                true
            }
            None => false,
        }
    }
}

/// Counts a request in flight on its connection while alive.
struct InFlight {
    conn: Arc<Conn>,
    open: Arc<Open>,
}

impl InFlight {
    fn new(conn: Arc<Conn>, open: Arc<Open>) -> InFlight {
        conn.in_flight.fetch_add(1, Ordering::AcqRel);
        InFlight { conn, open }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.conn
            .last_active
            .store(self.open.now(), Ordering::Relaxed);
        self.conn.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Serve `app` on `listener` until `shutdown` completes, then let every connection finish its
/// request in flight and return.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) {
    let open = Arc::new(Open {
        started: Instant::now(),
        conns: Mutex::new(HashMap::new()),
    });
    let (drain, draining) = watch::channel(false);
    let mut tasks = JoinSet::new();
    let mut next_id = 0u64;
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors (or a transient error): make room, retry shortly.
                    tracing::warn!(error = %e, "accept failed");
                    open.evict_idle();
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
        };
        while tasks.try_join_next().is_some() {}
        if open.len() >= limits.max_connections && !open.evict_idle() {
            // Every connection has a request in flight: refuse this one rather than exceed it.
            tracing::warn!(
                max_connections = limits.max_connections,
                "connection refused: at the limit"
            );
            continue;
        }
        next_id += 1;
        let conn = Accepted {
            id: next_id,
            state: open.insert(next_id),
            open: open.clone(),
        };
        tasks.spawn(connection(
            stream,
            app.clone(),
            limits,
            conn,
            draining.clone(),
        ));
    }
    drop(listener);
    let _ = drain.send(true);
    while tasks.join_next().await.is_some() {}
}

/// One connection until the client closes it, a timeout ends it, or it is asked to close
/// (evicted, or the server drains): then its request in flight finishes first.
async fn connection(
    stream: tokio::net::TcpStream,
    app: Router,
    limits: Limits,
    accepted: Accepted,
    mut draining: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let Accepted {
        id,
        state: conn,
        open,
    } = accepted;
    let (service_conn, service_open) = (conn.clone(), open.clone());
    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        let in_flight = InFlight::new(service_conn.clone(), service_open.clone());
        let app = app.clone();
        async move {
            let response = app.oneshot(request).await;
            drop(in_flight);
            response
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    let http = builder.serve_connection(TokioIo::new(stream), service);
    let mut http = std::pin::pin!(http);
    let mut closing = false;
    let idle_limit = limits.header_timeout.as_millis() as u64;
    loop {
        // An idle keep-alive connection is closed once idle for the header timeout.
        let idle_for = open
            .now()
            .saturating_sub(conn.last_active.load(Ordering::Relaxed));
        let idle_check = Duration::from_millis(idle_limit.saturating_sub(idle_for).max(1));
        tokio::select! {
            _ = http.as_mut() => break,
            () = tokio::time::sleep(idle_check), if !closing => {
                let idle = conn.in_flight.load(Ordering::Acquire) == 0
                    && open.now().saturating_sub(conn.last_active.load(Ordering::Relaxed)) >= idle_limit;
                if idle {
                    closing = true;
                    http.as_mut().graceful_shutdown();
                }
            }
            () = conn.close.notified(), if !closing => {
                closing = true;
                http.as_mut().graceful_shutdown();
            }
            _ = draining.changed(), if !closing => {
                closing = true;
                http.as_mut().graceful_shutdown();
            }
        }
    }
    open.remove(id);
}

/// A connection just registered in `open` under `id`.
struct Accepted {
    id: u64,
    state: Arc<Conn>,
    open: Arc<Open>,
}
