//! The one socket the standard library cannot make: a TCP connection from a chosen local
//! address (bind before connect), used by the swarm's outgoing connections and by the tracker
//! client's `--bind`. Built on the `socket2` crate, so no unsafe code is needed here.

use socket2::{Domain, Protocol, Socket, Type};
use std::io;
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::time::Duration;

/// A TCP connection from `local` (any port) to `addr`, the connect bounded by `timeout`. The
/// socket is close-on-exec; `local` and `addr` must be of the same family.
pub fn connect_from(local: IpAddr, addr: SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
    if local.is_ipv4() != addr.is_ipv4() {
        return Err(io::Error::other("address families differ"));
    }
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.bind(&SocketAddr::new(local, 0).into())?;
    socket.connect_timeout(&addr.into(), timeout.max(Duration::from_millis(1)))?;
    Ok(socket.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn connects_from_the_given_address() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let to = l.local_addr().unwrap();
        let from: IpAddr = "127.0.0.2".parse().unwrap();
        let s = connect_from(from, to, Duration::from_secs(5)).unwrap();
        assert_eq!(s.local_addr().unwrap().ip(), from);
        let (_, peer) = l.accept().unwrap();
        assert_eq!(peer.ip(), from);
    }

    #[test]
    fn refused_and_mixed_families_are_errors() {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let e = connect_from("127.0.0.1".parse().unwrap(), port, Duration::from_secs(5));
        assert_eq!(e.unwrap_err().kind(), io::ErrorKind::ConnectionRefused);
        let v6: SocketAddr = "[::1]:9".parse().unwrap();
        assert!(connect_from("127.0.0.1".parse().unwrap(), v6, Duration::from_secs(1)).is_err());
    }
}
