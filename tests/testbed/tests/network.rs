//! The firewalled network (`up --network firewalled`): from the host only SSH and the masters'
//! Admin Router answer; inside a node the cluster network is there; `down` leaves nothing behind.

mod common;

use common::{assert_refused, banner, namespaces, ssh, wait_until};
use dcos_sim::{http, Network, Role, Testbed};

use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

fn pid_alive(pid: i32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap_or_default()
            .contains(") Z")
}

#[test]
fn firewalled_host_sees_ssh_and_admin_router_nodes_see_the_cluster() {
    let tb = Testbed::builder()
        .masters(3)
        .agents(2)
        .public_agents(0)
        .activation_ms(300)
        .network(Network::Firewalled)
        .start()
        .expect("testbed starts");
    let addr = |name: &str| tb.node(name).unwrap().address;
    let masters: Vec<String> = tb
        .nodes()
        .into_iter()
        .filter(|n| n.role == Role::Master)
        .map(|n| n.address)
        .collect();
    let ssh_port = tb.def().ssh_port;
    let prefix = tb.def().netns_prefix();
    assert_eq!(namespaces(&prefix).len(), 5, "one namespace per node");
    assert_eq!(tb.def().admin_port, 80);

    // From the host: SSH everywhere (a real sshd behind the proxy), Admin Router on masters,
    // every other node port refuses.
    for n in tb.nodes() {
        let b = banner(&format!("{}:{ssh_port}", n.address));
        assert!(b.starts_with("SSH-2.0-"), "{}: {b:?}", n.name);
        let (code, out) = ssh(&tb, &n.name, "echo on-$DCOS_SIM_NODE");
        assert_eq!((code, out.trim()), (0, format!("on-{}", n.name).as_str()));
    }
    for m in &masters {
        let r = http::get(&format!("{m}:80"), "/dcos-metadata/dcos-version.json").unwrap();
        assert_eq!(r.status, 200, "{m}:80 {}", r.body);
        assert!(r.body.contains("\"version\""));
        for port in [5050, 8080, 8181, 2181, 1050] {
            assert_refused(&format!("{m}:{port}"));
        }
    }
    for a in ["a1", "a2"] {
        for port in [5051, 61001] {
            assert_refused(&format!("{}:{port}", addr(a)));
        }
    }

    // Inside an agent: its own services, every master's service ports, the bootstrap script URL
    // and the control API; another agent's :5051 is firewalled.
    let curl = |node: &str, url: &str| {
        let (code, out) = ssh(&tb, node, &format!("curl -fsS -m 5 {url}"));
        assert_eq!(code, 0, "curl {url} on {node}: {out}");
        out
    };
    let a1 = addr("a1");
    assert!(curl("a1", &format!("http://{a1}:5051/metrics/snapshot")).contains("registered"));
    assert!(curl("a1", &format!("http://{a1}:61001/system/health/v1")).contains("units"));
    for m in &masters {
        assert!(curl("a1", &format!("http://{m}:5050/metrics/snapshot")).contains("elected"));
        assert!(curl("a1", &format!("http://{m}:8080/v2/info")).contains("marathon"));
        assert!(curl(
            "a1",
            &format!("http://{m}:8181/exhibitor/v1/cluster/status")
        )
        .contains("serving"));
        assert!(curl("a1", &format!("http://{m}:1050/system/health/v1")).contains("units"));
        let (code, out) = ssh(
            &tb,
            "a1",
            &format!("exec 3<>/dev/tcp/{m}/2181 && printf ruok >&3 && cat <&3"),
        );
        assert_eq!((code, out.trim()), (0, "imok"), "ZooKeeper on {m} from a1");
    }
    let script = curl("a1", tb.upgrade_script_url());
    assert!(script.starts_with("#!"), "the node script: {script:.80}");
    assert!(curl("a1", &format!("{}/health", tb.ctl_url())).contains("healthy"));
    let (code, _) = ssh(
        &tb,
        "a1",
        &format!("curl -sS -m 5 http://{}:5051/", addr("a2")),
    );
    assert_eq!(code, 7, "a2:5051 refuses from a1 (curl: could not connect)");
    // Inside a master: the agents' :5051 and the other masters.
    let m1 = addr("m1");
    assert!(curl("m1", &format!("http://{a1}:5051/metrics/snapshot")).contains("registered"));
    assert!(curl("m1", &format!("http://{}:5050/version", masters[1])).contains("version"));
    assert!(curl(
        "m1",
        &format!("http://{m1}:80/dcos-metadata/dcos-version.json")
    )
    .contains("version"));

    // A stopped service refuses inside too, and comes back.
    let ctl = tb.ctl_url().trim_start_matches("http://").to_string();
    let r = http::post(&ctl, "/node/m2/unit/dcos-marathon/stop", "").unwrap();
    assert_eq!(r.status, 200);
    let (code, _) = ssh(
        &tb,
        "a1",
        &format!("curl -sS -m 5 http://{}:8080/v2/info", masters[1]),
    );
    assert_eq!(code, 7, "a stopped Marathon refuses inside the network");
    http::post(&ctl, "/node/m2/unit/dcos-marathon/start", "").unwrap();
    wait_until("Marathon on m2 back", 10, || {
        ssh(
            &tb,
            "a1",
            &format!("curl -fsS -m 2 http://{}:8080/v2/info", masters[1]),
        )
        .0 == 0
    });

    // ssh-down closes the host-side port as well; clearing it brings SSH back.
    let a2_ssh = format!("{}:{ssh_port}", addr("a2"));
    tb.fault("a2", "ssh-down").unwrap();
    assert_refused(&a2_ssh);
    tb.clear_fault("a2", "ssh-down").unwrap();
    assert_eq!(ssh(&tb, "a2", "true").0, 0);

    // The daemon dies; `down` still removes every namespace and every process.
    let pids: Vec<i32> = std::fs::read_dir(tb.dir().join("pids"))
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read_to_string(e.path()).ok()?.trim().parse().ok())
        .collect();
    assert!(pids.len() >= 6, "daemon and five sshds: {pids:?}");
    let daemon: i32 = std::fs::read_to_string(tb.dir().join("pids/daemon.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(Command::new("kill")
        .args(["-9", &daemon.to_string()])
        .status()
        .unwrap()
        .success());
    tb.down().unwrap();
    assert_eq!(
        namespaces(&prefix),
        Vec::<String>::new(),
        "no namespace left"
    );
    for pid in pids {
        assert!(!pid_alive(pid), "pid {pid} still runs after down");
    }
    assert_refused(&format!("{m1}:80"));
}

/// A free subnet for a hand-made `up` (nothing bound on its bootstrap and first master).
fn free_subnet() -> String {
    for b in 1..250u32 {
        let s = format!("127.203.{}", (std::process::id() + b) % 250 + 1);
        if TcpListener::bind(format!("{s}.11:2222")).is_ok()
            && namespaces(&format!("dcos-sim-{}-", s.replace('.', "-"))).is_empty()
        {
            return s;
        }
    }
    panic!("no free subnet");
}

fn up_cmd(dir: &Path, subnet: &str) -> Command {
    let mut c = Command::new(dcos_sim::sim_binary().unwrap());
    c.arg("up")
        .arg("--dir")
        .arg(dir)
        .args([
            "--masters",
            "1",
            "--agents",
            "1",
            "--version",
            "2.1.3",
            "--upgrade-to",
            "2.2.1",
        ])
        .args(["--subnet", subnet, "--network", "firewalled"]);
    c
}

#[test]
fn a_failed_firewalled_up_leaves_no_namespace_and_no_process() {
    let dir = tempfile::tempdir().unwrap();
    let subnet = free_subnet();
    // The daemon cannot bind the control API: `up` fails after the namespaces exist.
    let _blocker = TcpListener::bind(format!("{subnet}.2:9999")).unwrap();
    let out = up_cmd(dir.path(), &subnet).output().unwrap();
    assert!(!out.status.success(), "up must fail with :9999 taken");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("9999"), "the error names the port: {err}");
    let prefix = format!("dcos-sim-{}-", subnet.replace('.', "-"));
    assert_eq!(namespaces(&prefix), Vec::<String>::new());
    let left: Vec<_> = std::fs::read_dir(dir.path().join("pids"))
        .unwrap()
        .flatten()
        .collect();
    assert!(left.is_empty(), "pid files left: {left:?}");
    let marker = format!(
        "DCOS_SIM_DIR={}",
        std::fs::canonicalize(dir.path()).unwrap().display()
    );
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let env = std::fs::read(e.path().join("environ")).unwrap_or_default();
        let hit = env.split(|b| *b == 0).any(|v| v == marker.as_bytes());
        assert!(
            !hit,
            "process {:?} of the failed testbed still runs",
            e.file_name()
        );
    }
}

#[test]
fn real_zookeeper_keeps_its_quorum_across_the_namespaces() {
    if !dcos_sim::zk::available() {
        eprintln!("skipped: needs Debian's zookeeper package (scripts/test.sh installs it)");
        return;
    }
    let tb = Testbed::builder()
        .masters(3)
        .agents(1)
        .public_agents(0)
        .activation_ms(300)
        .network(Network::Firewalled)
        .real_zookeeper(true)
        .start()
        .expect("testbed starts");
    let masters: Vec<String> = tb
        .nodes()
        .into_iter()
        .filter(|n| n.role == Role::Master)
        .map(|n| n.address)
        .collect();
    let status = || {
        let r = http::get(
            &format!("{}:80", masters[0]),
            "/exhibitor/exhibitor/v1/cluster/status",
        )
        .unwrap();
        serde_json::from_str::<serde_json::Value>(&r.body).unwrap()
    };
    let count = |v: &serde_json::Value, key: &str, want: &serde_json::Value| {
        v.as_array()
            .unwrap()
            .iter()
            .filter(|s| s[key] == *want)
            .count()
    };
    // From the host, ZooKeeper refuses; Admin Router's Exhibitor sees one ensemble.
    for m in &masters {
        assert_refused(&format!("{m}:2181"));
    }
    let s = status();
    assert_eq!(count(&s, "description", &"serving".into()), 3, "{s}");
    assert_eq!(count(&s, "isLeader", &true.into()), 1, "{s}");
    // Inside the cluster network: every server answers, and the seeded znodes are there.
    for m in &masters {
        let (code, out) = ssh(
            &tb,
            "a1",
            &format!("exec 3<>/dev/tcp/{m}/2181 && printf srvr >&3 && cat <&3"),
        );
        assert!(
            code == 0 && (out.contains("Mode: leader") || out.contains("Mode: follower")),
            "{m}: {out}"
        );
    }
    let ns = dcos_sim::netns::NsThread::spawn(&tb.netns("m2").unwrap()).unwrap();
    let addr = format!("{}:2181", masters[1]);
    let data = ns
        .run(move || {
            let mut c = dcos_sim::zk::Client::connect(&addr, Duration::from_secs(5))?;
            c.data("/dcos/dcos-sim-seed/a")
        })
        .unwrap()
        .unwrap();
    assert_eq!(data.as_deref(), Some(&b"alpha"[..]));
    // The leader's Exhibitor stops: the other two elect a leader across the namespaces.
    let leader = s
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["isLeader"] == true)
        .unwrap()["hostname"]
        .as_str()
        .unwrap()
        .to_string();
    let name = tb
        .nodes()
        .into_iter()
        .find(|n| n.address == leader)
        .unwrap()
        .name;
    let ctl = tb.ctl_url().trim_start_matches("http://").to_string();
    let via = masters.iter().find(|m| **m != leader).unwrap().clone();
    let r = http::post(&ctl, &format!("/node/{name}/unit/dcos-exhibitor/stop"), "").unwrap();
    assert_eq!(r.status, 200);
    // About 11 s firewalled (under 1 s flat); see the README.
    wait_until("a new ZooKeeper leader", 120, || {
        let r = http::get(
            &format!("{via}:80"),
            "/exhibitor/exhibitor/v1/cluster/status",
        )
        .unwrap();
        let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        count(&v, "description", &"serving".into()) == 2 && count(&v, "isLeader", &true.into()) == 1
    });
    let zk_pids: Vec<i32> = std::fs::read_dir(tb.dir().join("pids"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("zk-"))
        .filter_map(|e| std::fs::read_to_string(e.path()).ok()?.trim().parse().ok())
        .collect();
    assert_eq!(zk_pids.len(), 2, "two servers still run");
    tb.down().unwrap();
    for pid in zk_pids {
        assert!(!pid_alive(pid), "ZooKeeper {pid} still runs after down");
    }
    assert_eq!(namespaces(&tb.def().netns_prefix()), Vec::<String>::new());
}
