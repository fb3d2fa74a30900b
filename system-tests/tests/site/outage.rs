//! A network between the gateway and the cloud that can be cut: a TCP relay on loopback
//! that forwards to the cloud while up, and while down accepts and drops every connection
//! (as a dead uplink would reset it).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};

pub struct Uplink {
    pub addr: SocketAddr,
    up: Arc<AtomicBool>,
}

impl Uplink {
    /// A relay to `cloud`, up or down from the start.
    pub async fn start(cloud: SocketAddr, up: bool) -> Uplink {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let flag = Arc::new(AtomicBool::new(up));
        let state = flag.clone();
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !state.load(Ordering::Relaxed) {
                    drop(inbound);
                    continue;
                }
                let state = state.clone();
                tokio::spawn(async move {
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
        Uplink { addr, up: flag }
    }

    pub fn set_up(&self, up: bool) {
        self.up.store(up, Ordering::Relaxed);
    }
}
