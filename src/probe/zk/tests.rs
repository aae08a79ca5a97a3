//! Unit tests of the ZooKeeper four-letter words and children parsers.

use super::*;

#[test]
fn srvr_and_mntr_answers_parse() {
    let srvr =
        "Zookeeper version: 3.8.0\nLatency min/avg/max: 0/0.0/0\nMode: leader\nNode count: 5\n";
    assert_eq!(parse_srvr_mode(srvr).as_deref(), Some("leader"));
    assert_eq!(
        parse_srvr_mode("This ZooKeeper instance is not currently serving requests\n"),
        None
    );
    let m = parse_mntr("zk_server_state\tleader\nzk_znode_count\t5\nzk_synced_followers\t2\n");
    assert_eq!(m.get("zk_synced_followers").map(String::as_str), Some("2"));
    assert_eq!(m.get("zk_znode_count").map(String::as_str), Some("5"));
}

fn s(host: &str, mode: &str, synced: Option<u64>) -> ZkServer {
    ZkServer {
        host: host.into(),
        ok: true,
        mode: Some(mode.into()),
        synced_followers: synced,
        znode_count: Some(5),
        connections: Some(1),
        error: None,
        ..Default::default()
    }
}

#[test]
fn an_ensemble_is_judged_by_its_leader() {
    let good = [
        s("a", "follower", None),
        s("b", "leader", Some(2)),
        s("c", "follower", None),
    ];
    assert!(judge(&good, 3).is_ok());
    let lagging = [
        s("a", "follower", None),
        s("b", "leader", Some(1)),
        s("c", "follower", None),
    ];
    assert!(judge(&lagging, 3)
        .unwrap_err()
        .contains("1 synced followers"));
    let mut down = good.clone();
    down[2] = ZkServer {
        host: "c".into(),
        error: Some("ZooKeeper c:2181: cannot connect".into()),
        ..Default::default()
    };
    assert!(judge(&down, 3).unwrap_err().contains("c:2181"));
    let two = [s("a", "leader", Some(1)), s("b", "leader", Some(1))];
    assert!(judge(&two, 2)
        .unwrap_err()
        .contains("2 ZooKeeper servers say Mode: leader"));
}

#[test]
fn a_children_reply_parses_and_garbage_is_an_error() {
    let mut b = Vec::new();
    b.extend_from_slice(&1i32.to_be_bytes());
    b.extend_from_slice(&7i64.to_be_bytes());
    b.extend_from_slice(&0i32.to_be_bytes());
    b.extend_from_slice(&2i32.to_be_bytes());
    for n in ["zookeeper", "mesos"] {
        b.extend_from_slice(&(n.len() as i32).to_be_bytes());
        b.extend_from_slice(n.as_bytes());
    }
    assert_eq!(parse_children(&b).unwrap(), vec!["zookeeper", "mesos"]);
    assert!(parse_children(&b[..20]).is_err());
    assert!(parse_children(&[1, 2]).is_err());
}
