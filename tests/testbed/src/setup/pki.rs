//! The testbed's certificate authority (`--security permissive|strict`): `DIR/dcos-ca.crt`, one
//! certificate for every node address, and the files DC/OS keeps on the nodes (facts §8.1).
//!
//! Made with the `openssl` command. One end-entity certificate names every node's address (a
//! client verifying by address cannot tell it from per-node ones); it also serves as Exhibitor's
//! client certificate.

use super::*;
use crate::model::{Role, SimDef};
use anyhow::{bail, Context, Result};
use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};

fn openssl(args: &[&str], cwd: &Path) -> Result<()> {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .output()
        .context("running openssl (is the openssl package installed?)")?;
    if !out.status.success() {
        bail!(
            "openssl {} failed: {}",
            args.first().unwrap_or(&""),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// Writes the CA and the node certificate under `DIR`, and each node's copies.
pub(super) fn make_pki(def: &SimDef) -> Result<()> {
    let pki = def.pki_dir();
    fs::create_dir_all(&pki)?;
    let ca = def.dir.join("dcos-ca.crt");
    let ca_s = ca.to_string_lossy().to_string();
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let subj = format!("/CN=dcos-sim CA {}", def.subnet);
    let mut args = vec!["req", "-x509"];
    args.extend(ec);
    args.extend([
        "-keyout",
        "ca.key",
        "-out",
        &ca_s,
        "-days",
        "30",
        "-subj",
        &subj,
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    openssl(&args, &pki)?;
    let mut sans: Vec<String> = def
        .nodes
        .iter()
        .map(|n| format!("IP:{}", n.address))
        .collect();
    sans.push(format!("IP:{}", def.bootstrap_address));
    // The documented Exhibitor TLS check asks https://localhost:8181 with the node's client
    // certificate (facts §1.4), so the certificate names localhost too, as DC/OS's does.
    sans.push("DNS:localhost".into());
    write(
        &pki.join("node.ext"),
        &format!(
            "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName={}\n",
            sans.join(",")
        ),
    )?;
    let mut args = vec!["req"];
    args.extend(ec);
    args.extend([
        "-keyout",
        "node.key",
        "-out",
        "node.csr",
        "-subj",
        "/CN=dcos-sim node",
    ]);
    openssl(&args, &pki)?;
    openssl(
        &[
            "x509",
            "-req",
            "-in",
            "node.csr",
            "-CA",
            &ca_s,
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "node.crt",
            "-days",
            "30",
            "-extfile",
            "node.ext",
        ],
        &pki,
    )?;
    let ca_pem = fs::read_to_string(&ca)?;
    let crt = fs::read_to_string(pki.join("node.crt"))?;
    let key = fs::read_to_string(pki.join("node.key"))?;
    for n in &def.nodes {
        write(&n.root.join("run/dcos/pki/CA/ca-bundle.crt"), &ca_pem)?;
        if n.role == Role::Master {
            let t = n.root.join("var/lib/dcos/exhibitor-tls-artifacts");
            write(&t.join("root-cert.pem"), &ca_pem)?;
            write(&t.join("client-cert.pem"), &crt)?;
            write(&t.join("client-key.pem"), &key)?;
        }
    }
    Ok(())
}
