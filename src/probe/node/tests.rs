//! Unit tests of node-local reads: the script and the reply parser.

use super::*;

#[test]
fn a_round_is_parsed_reply_by_reply_whatever_the_bodies_contain() {
    let out = "@@dcu-node 10.0.0.11 strict\n@@dcu-reply master-metrics 200 14 -\n{\"a\":1.0}\n@@x\n\n@@dcu-reply redirect 307 0 //10.0.0.12:5050\n\n@@dcu-reply zk-ruok 000 7 -\nrefused\n";
    let r = parse("m1", out).unwrap();
    assert_eq!(r.ip, "10.0.0.11");
    assert_eq!(r.security, Security::Strict);
    let (_, a) = r.answer(Read::MasterMetrics).unwrap();
    assert_eq!(a.body, "{\"a\":1.0}\n@@x\n");
    let (_, a) = r.answer(Read::Redirect).unwrap();
    assert_eq!(a.status, 307);
    assert_eq!(a.location.as_deref(), Some("//10.0.0.12:5050"));
    assert!(r.zk(Read::Zk(Word::Ruok)).unwrap_err().contains("refused"));
    assert!(r.answer(Read::Exhibitor).is_err());
}

#[test]
fn the_top_level_znodes_are_read_from_the_hex_of_the_pipelined_replies() {
    // connect reply (len 4: 00 00 00 00), getChildren reply: xid 1, zxid 0, err 0, ["a","bc"].
    let mut b: Vec<u8> = vec![0, 0, 0, 4, 0, 0, 0, 0];
    let body: Vec<u8> = [
        &1i32.to_be_bytes()[..],
        &0i64.to_be_bytes(),
        &0i32.to_be_bytes(),
        &2i32.to_be_bytes(),
        &1i32.to_be_bytes(),
        b"a",
        &2i32.to_be_bytes(),
        b"bc",
    ]
    .concat();
    b.extend((body.len() as i32).to_be_bytes());
    b.extend(body);
    let hex: String = b.iter().map(|x| format!(" {x:02x}")).collect();
    assert_eq!(parse_zk_root(&hex).unwrap(), vec!["a", "bc"]);
}

#[test]
fn the_request_bytes_are_printf_safe() {
    // Every byte is sent as \xNN: the format string holds no % and no quote.
    let fmt: String = zk_root_request()
        .iter()
        .map(|b| format!("\\x{b:02x}"))
        .collect();
    assert!(!fmt.contains('%') && !fmt.contains('\''));
}

/// Reads a request up to the end of its headers (a server that closes with a request unread
/// resets the connection, and its answer is lost); returns what it read.
fn read_request(c: &mut impl std::io::Read) -> Vec<u8> {
    let mut req = Vec::new();
    let mut buf = [0u8; 1024];
    while !req.windows(4).any(|w| w == b"\r\n\r\n") {
        match c.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => req.extend_from_slice(&buf[..n]),
        }
    }
    req
}

/// Serves each of `answers` once, to the request for its path, whatever order the requests
/// come in; returns the port.
fn serve_by_path(answers: Vec<(&'static str, Vec<u8>)>) -> u16 {
    use std::io::Write as _;
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut left = answers;
        while !left.is_empty() {
            let (mut c, _) = l.accept().unwrap();
            let req = read_request(&mut c);
            let line = String::from_utf8_lossy(&req)
                .lines()
                .next()
                .unwrap_or_default()
                .to_string();
            let path = line
                .split_whitespace()
                .nth(1)
                .unwrap_or_default()
                .to_string();
            if let Some(i) = left.iter().position(|(p, _)| *p == path) {
                let (_, a) = left.remove(i);
                let _ = c.write_all(&a);
            }
        }
    });
    port
}

/// Serves each connection, in order, one canned raw HTTP answer; returns the port.
fn serve(answers: Vec<Vec<u8>>) -> u16 {
    serve_counted(answers).0
}

/// A node's tree: `detect_ip` printing two lines (127.0.0.1 first), a one-line bootstrap config
/// in permissive mode.
fn node_tree() -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let root = tempfile::tempdir().unwrap();
    let bin = root.path().join("opt/mesosphere/bin");
    let etc = root.path().join("opt/mesosphere/etc");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::create_dir_all(&etc).unwrap();
    std::fs::write(
        bin.join("detect_ip"),
        "#!/bin/sh\necho 127.0.0.1\necho 10.9.9.9\n",
    )
    .unwrap();
    std::fs::set_permissions(
        bin.join("detect_ip"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    std::fs::write(
        etc.join("bootstrap-config.json"),
        r#"{"cluster_id": "x", "security" : "permissive", "other": "strict"}"#,
    )
    .unwrap();
    root
}

fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

#[test]
fn the_script_frames_real_hostile_answers_so_that_each_reply_parses_whole() {
    let root = node_tree();
    // A body that imitates the framing, a redirect with an odd Location, a chunked body
    // without a final newline.
    let fake_frame = "{\"a\":1.0}\n@@dcu-reply exhibitor 200 2 -\nxx\n@@dcu-node 6.6.6.6 strict";
    let metrics = format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{fake_frame}",
        fake_frame.len()
    );
    let redirect = "HTTP/1.1 307 Temporary Redirect\r\nlocation:  //10.0.0.12:5050\r\nContent-Length: 0\r\n\r\n";
    let flags = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
    // The round's plain reads run at once: each answer goes to the request for its path.
    let port = serve_by_path(vec![
        ("/metrics/snapshot", metrics.into_bytes()),
        ("/master/redirect", redirect.as_bytes().to_vec()),
        ("/flags", flags.as_bytes().to_vec()),
    ]);
    let mut c = crate::testkit::cluster(
        0,
        std::sync::Arc::new(crate::door::fake::FakeCluster::new()),
    );
    c.playbook.ports.mesos_master = port;
    c.playbook.ports.mesos_agent = closed_port();
    let mut node = c.inventory.masters[0].clone();
    node.root = root.path().display().to_string();
    let reads = [
        Read::MasterMetrics,
        Read::Redirect,
        Read::Flags,
        Read::AgentMetrics,
    ];
    let mut child = std::process::Command::new("bash")
        .arg("-c")
        .arg(script(&c, &node, &reads))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write as _;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"sekrit-token\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(!text.contains("sekrit-token"), "{text}");
    let r = parse("m1", &text).unwrap();
    assert_eq!(r.ip, "127.0.0.1");
    assert_eq!(r.security, Security::Permissive);
    let (_, a) = r.answer(Read::MasterMetrics).unwrap();
    assert_eq!((a.status, a.body.as_str()), (200, fake_frame));
    let (_, a) = r.answer(Read::Redirect).unwrap();
    assert_eq!(a.status, 307);
    assert_eq!(a.location.as_deref(), Some("//10.0.0.12:5050"));
    assert_eq!(a.body, "");
    let (_, a) = r.answer(Read::Flags).unwrap();
    assert_eq!((a.status, a.body.as_str()), (200, "hello world"), "{text}");
    assert!(
        r.answer(Read::Exhibitor).is_err(),
        "a reply framed inside a body is body"
    );
    let e = r.answer(Read::AgentMetrics).unwrap_err().to_string();
    assert!(e.contains(":5051/metrics/snapshot"), "{e}");
}

/// Runs one round's script in a local bash (the token on standard input) and returns its output.
fn run_round(c: &Cluster, node: &crate::playbook::NodeSpec, reads: &[Read]) -> String {
    run_script(&script(c, node, reads))
}

/// Runs a round's `script` in a local bash (the token on standard input) and returns its output.
fn run_script(script: &str) -> String {
    use std::io::Write as _;
    let mut child = std::process::Command::new("bash")
        .arg("-c")
        .arg(script)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"t\n").unwrap();
    String::from_utf8(child.wait_with_output().unwrap().stdout).unwrap()
}

/// The address `detect_ip` printed is learnt by the first round and used by the next instead of
/// running `detect_ip` again; a round that reaches nothing forgets it.
#[test]
fn a_node_s_detected_address_is_learnt_once_and_forgotten_when_nothing_answers() {
    use std::os::unix::fs::PermissionsExt;
    let root = node_tree();
    // This detect_ip counts its runs.
    let runs = root.path().join("detect-runs");
    let bin = root.path().join("opt/mesosphere/bin/detect_ip");
    std::fs::write(
        &bin,
        format!(
            "#!/bin/sh\necho x >> '{}'\necho 127.0.0.1\n",
            runs.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    let ok = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"
        .as_bytes()
        .to_vec();
    let port = serve(vec![ok.clone(), ok]);
    let mut c = crate::testkit::cluster(
        0,
        std::sync::Arc::new(crate::door::fake::FakeCluster::new()),
    );
    c.playbook.ports.mesos_master = port;
    let mut node = c.inventory.masters[0].clone();
    node.root = root.path().display().to_string();
    let count = || {
        std::fs::read_to_string(&runs)
            .unwrap_or_default()
            .lines()
            .count()
    };
    // First round: detect_ip runs, its address is what the round reached.
    let r = parse(&node.address, &run_round(&c, &node, &[Read::MasterMetrics])).unwrap();
    assert!(r.detected);
    assert_eq!((r.ip.as_str(), count()), ("127.0.0.1", 1));
    c.detected_ips.saw(&node.address, &r.ip);
    // Second round: the learnt address, no detect_ip.
    let r = parse(&node.address, &run_round(&c, &node, &[Read::MasterMetrics])).unwrap();
    assert!(!r.detected, "a known address is not a detected one");
    assert_eq!((r.ip.as_str(), count()), ("127.0.0.1", 1));
    let (_, a) = r.answer(Read::MasterMetrics).unwrap();
    assert_eq!(a.status, 200);
    // Without detect_ip and nothing learnt: the inventory's address, not counted as detected.
    c.detected_ips.forget(&node.address);
    std::fs::remove_file(&bin).unwrap();
    let r = parse(&node.address, &run_round(&c, &node, &[])).unwrap();
    assert!(!r.detected);
    assert_eq!(r.ip, node.address);
}

/// Times rounds of the real script in bash against a local HTTP server (opt-in): the cost of
/// one round of three reads on this machine, processes included. See BENCHMARKS.md §7.
#[test]
#[ignore = "benchmark: cargo test --lib probe::node::tests::round_cost -- --ignored --nocapture"]
fn round_cost() {
    use std::io::Write as _;
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for c in l.incoming() {
            let Ok(mut c) = c else { continue };
            read_request(&mut c);
            let body = r#"{"master/elected": 1.0, "registrar/log/recovered": 1.0}"#;
            let _ = c.write_all(
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nLocation: //127.0.0.1:5050\r\n\r\n{body}",
                    body.len()
                )
                .as_bytes(),
            );
        }
    });
    let mut c = crate::testkit::cluster(
        0,
        std::sync::Arc::new(crate::door::fake::FakeCluster::new()),
    );
    c.playbook.ports.mesos_master = port;
    let mut node = c.inventory.masters[0].clone();
    let root = node_tree();
    node.root = root.path().display().to_string();
    let s = script(
        &c,
        &node,
        &[Read::MasterMetrics, Read::Redirect, Read::Flags],
    );
    let mut took = Vec::new();
    for _ in 0..30 {
        let t = std::time::Instant::now();
        let out = std::process::Command::new("bash")
            .arg("-c")
            .arg(&s)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        took.push(t.elapsed());
        let text = String::from_utf8_lossy(&out.stdout);
        let r = parse("m1", &text).unwrap();
        assert_eq!(r.answer(Read::Flags).unwrap().1.status, 200, "{text}");
    }
    took.sort();
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
    println!(
        "node::read round of 3 reads, local bash: median {:.1} ms (min {:.1}, max {:.1}), 30 rounds",
        ms(took[15]),
        ms(took[0]),
        ms(took[29])
    );
}

/// The version file is read in the round (no command of its own): its version, or an error that
/// names the file when it is missing, which is not mistaken for an address that reaches nothing.
#[test]
fn the_version_file_is_read_in_the_same_round() {
    let root = node_tree();
    let mut c = crate::testkit::cluster(
        0,
        std::sync::Arc::new(crate::door::fake::FakeCluster::new()),
    );
    c.playbook.ports.mesos_master = closed_port();
    let mut node = c.inventory.masters[0].clone();
    node.root = root.path().display().to_string();
    let file = root.path().join("opt/mesosphere/etc/dcos-version.json");
    std::fs::write(&file, r#"{"version": "2.2.1", "dcos-image-commit": "x"}"#).unwrap();
    let r = parse(&node.address, &run_round(&c, &node, &[Read::Version])).unwrap();
    assert_eq!(r.version().unwrap(), "2.2.1");
    std::fs::remove_file(&file).unwrap();
    let out = run_round(&c, &node, &[Read::MasterMetrics, Read::Version]);
    let r = parse(&node.address, &out).unwrap();
    let e = r.version().unwrap_err();
    assert!(e.contains("dcos-version.json"), "{e}");
    let (_, a) = r.answer(Read::Version).unwrap();
    assert_eq!(a.status, 404, "{out}");
}

/// Serves each connection, in order, one canned raw HTTP answer, and counts the connections
/// answered; returns the port and the count.
fn serve_counted(answers: Vec<Vec<u8>>) -> (u16, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::io::Write as _;
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let served = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = served.clone();
    std::thread::spawn(move || {
        for a in answers {
            let (mut c, _) = l.accept().unwrap();
            read_request(&mut c);
            let _ = c.write_all(&a);
            count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    });
    (port, served)
}

fn metrics_answer(registered: &str) -> String {
    let body = format!("{{\"slave\\/registered\":{registered},\"slave\\/uptime_secs\":3.0}}");
    format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// An agent polled on the node (`Until`): its round is read again until its answer matches,
/// and what comes back is the round that matched.
fn polled_agent(answers: Vec<String>, within: Duration) -> (NodeReads, usize) {
    let root = node_tree();
    let (port, served) = serve_counted(answers.into_iter().map(String::into_bytes).collect());
    let mut c = crate::testkit::cluster(
        0,
        std::sync::Arc::new(crate::door::fake::FakeCluster::new()),
    );
    c.playbook.ports.mesos_agent = port;
    let mut node = c.inventory.masters[0].clone();
    node.root = root.path().display().to_string();
    let until = Until {
        read: Read::AgentMetrics,
        pattern: crate::phases::gates::AGENT_REGISTERED,
        every: Duration::from_millis(10),
        within,
    };
    let reads = [Read::Version, Read::AgentMetrics];
    let text = run_script(&script_polled(&c, &node, &reads, &[], Some(&until)));
    let r = parse("a1", &text).unwrap();
    (r, served.load(std::sync::atomic::Ordering::SeqCst))
}

#[test]
fn an_agent_polled_on_the_node_answers_with_the_first_round_that_shows_it_registered() {
    let answers = vec![
        metrics_answer("0.0"),
        metrics_answer("0.0"),
        metrics_answer("1.0"),
        metrics_answer("0.0"),
    ];
    let (r, served) = polled_agent(answers, Duration::from_secs(5));
    assert_eq!(served, 3, "polled until the third answer, and no more");
    let (_, a) = r.answer(Read::AgentMetrics).unwrap();
    assert!(a.body.contains("registered\":1.0"), "{}", a.body);
    // The other read of the round is the last round's too (the version file is absent here).
    assert_eq!(r.answer(Read::Version).unwrap().1.status, 404);
}

#[test]
fn polling_on_the_node_ends_at_a_refusal_and_after_its_rounds() {
    let refused = "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n".to_string();
    let (r, served) = polled_agent(vec![refused, metrics_answer("1.0")], Duration::from_secs(5));
    assert_eq!(served, 1, "a 401 is the judge's to see, at once");
    assert_eq!(r.answer(Read::AgentMetrics).unwrap().1.status, 401);
    // Never registered: within 50 ms at 10 ms a round is 5 rounds, then the last one's answer.
    let (r, served) = polled_agent(vec![metrics_answer("0.0"); 20], Duration::from_millis(50));
    assert_eq!(served, 5);
    let (_, a) = r.answer(Read::AgentMetrics).unwrap();
    assert!(a.body.contains("registered\":0.0"), "{}", a.body);
}

/// A service that takes the connection and never answers costs its read 5 s, not the round: the
/// round's other plain-HTTP reads keep their answers, and the silent one comes back as no answer
/// that says so.
#[test]
fn a_read_that_gets_no_answer_ends_after_5_s_and_the_others_keep_theirs() {
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    let held = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let keep = held.clone();
    std::thread::spawn(move || {
        for c in silent.incoming().flatten() {
            keep.lock().unwrap().push(c);
        }
    });
    let answering = serve(vec![metrics_answer("1.0").into_bytes()]);
    let mut c = crate::testkit::cluster(
        0,
        std::sync::Arc::new(crate::door::fake::FakeCluster::new()),
    );
    c.playbook.ports.mesos_master = silent_port;
    c.playbook.ports.mesos_agent = answering;
    let mut node = c.inventory.masters[0].clone();
    let root = node_tree();
    node.root = root.path().display().to_string();
    let t = std::time::Instant::now();
    let text = run_round(&c, &node, &[Read::MasterMetrics, Read::AgentMetrics]);
    let took = t.elapsed();
    let r = parse("m1", &text).unwrap();
    let e = r.answer(Read::MasterMetrics).unwrap_err().to_string();
    assert!(
        e.contains(&format!(
            "no answer from 127.0.0.1:{silent_port} within 5 s"
        )),
        "{e}"
    );
    let (_, a) = r.answer(Read::AgentMetrics).unwrap();
    assert_eq!(a.status, 200, "{text}");
    assert!(
        took >= Duration::from_secs(5) && took < Duration::from_secs(8),
        "the round took {took:?}"
    );
    assert_eq!(
        held.lock().unwrap().len(),
        1,
        "the silent service was asked once"
    );
}
