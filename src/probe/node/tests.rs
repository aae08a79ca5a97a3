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
