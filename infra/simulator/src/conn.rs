//! Plays the network failure that makes a send's outcome unknown (SPEC §5:
//! "a message whose send outcome is unknown after a crash…"): the provider
//! accepted the message, then the TCP connection closed before any HTTP
//! response. Each accepted connection carries a kill switch that a handler can
//! pull through `ConnectInfo<DropHandle>`; once pulled, the connection refuses
//! to write, so hyper drops it without sending the response.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// A TCP listener whose connections can be dropped mid-request.
pub struct SimListener(pub TcpListener);

/// A connection with a kill switch.
pub struct SimStream {
    inner: TcpStream,
    killed: Arc<AtomicBool>,
}

/// The handler's side of the kill switch.
#[derive(Clone, Debug)]
pub struct DropHandle(Arc<AtomicBool>);

impl DropHandle {
    /// Closes the connection without answering: whatever response the handler
    /// returns is never written.
    pub fn drop_connection(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

impl Listener for SimListener {
    type Io = SimStream;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let (inner, addr) = Listener::accept(&mut self.0).await;
        let _ = inner.set_nodelay(true);
        let stream = SimStream {
            inner,
            killed: Arc::new(AtomicBool::new(false)),
        };
        (stream, addr)
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.0.local_addr()
    }
}

impl Connected<IncomingStream<'_, SimListener>> for DropHandle {
    fn connect_info(stream: IncomingStream<'_, SimListener>) -> Self {
        DropHandle(stream.io().killed.clone())
    }
}

impl SimStream {
    fn killed(&self) -> bool {
        self.killed.load(Ordering::SeqCst)
    }
}

fn aborted() -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionAborted,
        "simulator: connection dropped after accepting",
    )
}

impl AsyncRead for SimStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.killed() {
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for SimStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.killed() {
            return Poll::Ready(Err(aborted()));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.killed() {
            return Poll::Ready(Err(aborted()));
        }
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
