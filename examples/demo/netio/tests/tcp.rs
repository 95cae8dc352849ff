//! Real TCP round trips against an echo server on 127.0.0.1. Most of the
//! time here is spent waiting on the peer or on a socket timeout.

use std::io;
use std::net::TcpListener;
use std::time::{Duration, Instant};

use netio::{read_frame, request, write_frame, EchoServer};

const GENEROUS: Duration = Duration::from_secs(5);

#[test]
fn echo_round_trip_over_localhost() {
    let server = EchoServer::start(Duration::ZERO).unwrap();
    assert_eq!(request(server.addr(), b"ping", GENEROUS).unwrap(), b"ping");
}

#[test]
fn echo_many_frames_on_one_connection() {
    let server = EchoServer::start(Duration::ZERO).unwrap();
    let mut stream = std::net::TcpStream::connect(server.addr()).unwrap();
    stream.set_read_timeout(Some(GENEROUS)).unwrap();
    for i in 0..50u32 {
        let payload = i.to_be_bytes().repeat(i as usize);
        write_frame(&mut stream, &payload).unwrap();
        assert_eq!(read_frame(&mut stream).unwrap(), payload);
    }
}

#[test]
fn echo_large_frame() {
    let server = EchoServer::start(Duration::ZERO).unwrap();
    let payload: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    assert_eq!(request(server.addr(), &payload, GENEROUS).unwrap(), payload);
}

#[test]
fn slow_server_reply_arrives_within_timeout() {
    let server = EchoServer::start(Duration::from_millis(600)).unwrap();
    let start = Instant::now();
    assert_eq!(request(server.addr(), b"patience", GENEROUS).unwrap(), b"patience");
    assert!(start.elapsed() >= Duration::from_millis(600));
}

#[test]
fn client_times_out_on_stalled_server() {
    let server = EchoServer::start(Duration::from_secs(3)).unwrap();
    let start = Instant::now();
    let err = request(server.addr(), b"hello?", Duration::from_millis(400)).unwrap_err();
    assert!(
        matches!(err.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut),
        "unexpected error: {err:?}"
    );
    let waited = start.elapsed();
    assert!(waited >= Duration::from_millis(400) && waited < Duration::from_secs(3), "{waited:?}");
}

#[test]
fn connect_is_refused_on_closed_port() {
    let addr = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let err = request(addr, b"anyone?", GENEROUS).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused);
}
