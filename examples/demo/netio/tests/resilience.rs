//! Retries, pacing and reconnects: these tests mostly sleep. The last one is
//! the demo's I/O straggler (about 1.5 s of waiting on a restarting server).

use std::thread;
use std::time::{Duration, Instant};

use netio::{request, retry, Backoff, EchoServer, Pacer};

const TIMEOUT: Duration = Duration::from_secs(2);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn flaky_call_succeeds_on_third_attempt_after_backoff() {
    let backoff = Backoff { base: ms(250), factor: 2, max: ms(2_000) };
    let start = Instant::now();
    let result = retry(&backoff, 5, |attempt| if attempt < 2 { Err("flaky") } else { Ok(attempt) });
    assert_eq!(result, Ok(2));
    assert!(start.elapsed() >= ms(750), "waited 250 + 500 ms");
}

#[test]
fn pacer_spaces_out_requests() {
    let server = EchoServer::start(Duration::ZERO).unwrap();
    let mut pacer = Pacer::new(ms(60));
    let start = Instant::now();
    for i in 0..10u8 {
        pacer.wait();
        assert_eq!(request(server.addr(), &[i], TIMEOUT).unwrap(), [i]);
    }
    assert!(start.elapsed() >= ms(540));
}

#[test]
fn batch_against_slow_server_is_sequential() {
    let server = EchoServer::start(ms(200)).unwrap();
    let start = Instant::now();
    for word in ["alpha", "beta", "gamma", "delta"] {
        assert_eq!(request(server.addr(), word.as_bytes(), TIMEOUT).unwrap(), word.as_bytes());
    }
    assert!(start.elapsed() >= ms(800));
}

#[test]
fn reconnect_survives_server_restart_with_full_backoff() {
    let server = EchoServer::start(Duration::ZERO).unwrap();
    let addr = server.addr();
    assert_eq!(request(addr, b"before", TIMEOUT).unwrap(), b"before");
    server.shutdown();

    // The server comes back on the same port after 1.3 s of downtime.
    let restarter = thread::spawn(move || {
        thread::sleep(ms(1_300));
        EchoServer::start_on(addr, Duration::ZERO).unwrap()
    });

    // Attempts at ~0, 0.1, 0.3, 0.7 and 1.5 s: only the last one connects.
    let backoff = Backoff { base: ms(100), factor: 2, max: ms(5_000) };
    let start = Instant::now();
    let reply = retry(&backoff, 6, |_| request(addr, b"after", TIMEOUT)).unwrap();
    assert_eq!(reply, b"after");
    assert!(start.elapsed() >= ms(1_300));
    drop(restarter.join().unwrap());
}
