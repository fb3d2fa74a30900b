//! A network between the gateway and the cloud that can be cut: a TCP relay on loopback
//! that forwards to the cloud while up, and while down accepts and drops every connection
//! (as a dead uplink would reset it).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};

pub struct Uplink {
    pub addr: SocketAddr,
    up: Arc<AtomicBool>,
    /// Connections being relayed now.
    open: Arc<AtomicUsize>,
}

impl Uplink {
    /// A relay to `cloud`, up or down from the start.
    pub async fn start(cloud: SocketAddr, up: bool) -> Uplink {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let flag = Arc::new(AtomicBool::new(up));
        let open = Arc::new(AtomicUsize::new(0));
        let state = flag.clone();
        let relaying = open.clone();
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !state.load(Ordering::Relaxed) {
                    drop(inbound);
                    continue;
                }
                let state = state.clone();
                let relaying = relaying.clone();
                relaying.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let _closed = Closed(relaying);
                    let Ok(mut outbound) = TcpStream::connect(cloud).await else {
                        return;
                    };
                    // Connections open when the link is cut die with it.
                    let relay = tokio::io::copy_bidirectional(&mut inbound, &mut outbound);
                    let cut = async {
                        while state.load(Ordering::Relaxed) {
                            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        }
                    };
                    tokio::select! {
                        _ = relay => {}
                        () = cut => {}
                    }
                });
            }
        });
        Uplink {
            addr,
            up: flag,
            open,
        }
    }

    pub fn set_up(&self, up: bool) {
        self.up.store(up, Ordering::Relaxed);
    }

    /// Cuts the link and waits until no connection is relayed any more, so that nothing
    /// sent afterwards can slip through one that was open.
    pub async fn go_down(&self) {
        self.set_up(false);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while self.open.load(Ordering::SeqCst) > 0 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "relayed connections still open 5 s after the link was cut"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// Counts a relayed connection as closed when its task ends.
struct Closed(Arc<AtomicUsize>);

impl Drop for Closed {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}
