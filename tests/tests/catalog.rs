//! The service catalog as an operator and an app meet it: `yiwang serve`
//! from nothing has the demo catalog; `yiwang dev seed-catalog` fills a
//! server started without it; the app's calls through curl.
#![allow(clippy::unwrap_used)]

use std::process::Command;

use serde_json::Value;
use yiwang_e2e::{Server, curl, yiwang_binary};

fn get_json(url: &str) -> (u16, Value) {
    let (status, body) = curl(&[url]);
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

#[test]
fn a_first_start_has_the_demo_catalog_to_browse() {
    let workdir = tempfile::tempdir().unwrap();
    let server = Server::start(workdir.path(), &[], &[]);
    let base = &server.base_url;

    let (status, page) = get_json(&format!("{base}/v1/matters?limit=100"));
    assert_eq!(status, 200, "{page}");
    assert!(page["matters"].as_array().unwrap().len() >= 20);

    // Search in Chinese (curl sends the UTF-8 percent-encoded).
    let (status, page) = get_json(&format!(
        "{base}/v1/matters?q=%E4%BC%98%E5%BE%85%E8%AF%81" // 优待证
    ));
    assert_eq!(status, 200);
    assert_eq!(
        page["matters"][0]["code"],
        "11100000MB0143028R3210000000001"
    );
    let (status, senior) = get_json(&format!(
        "{base}/v1/matters/11100000MB0143028R3210000000001"
    ));
    assert_eq!(status, 200);
    assert_eq!(senior["form"]["title"]["zh"], "老年人优待证申领");

    let (status, error) = get_json(&format!("{base}/v1/matters?limit=1000"));
    assert_eq!(status, 422);
    assert_eq!(error["code"], "YW-4709");
}

#[test]
fn seed_catalog_fills_a_server_started_without_it() {
    let workdir = tempfile::tempdir().unwrap();
    let env = [("YIWANG_SEED_DEMO_CATALOG", "false")];
    let server = Server::start(workdir.path(), &[], &env);
    let (_, page) = get_json(&format!("{}/v1/matters", server.base_url));
    assert_eq!(page["matters"].as_array().unwrap().len(), 0);
    drop(server);

    let seed = |expected: &str| {
        let output = Command::new(yiwang_binary())
            .args(["dev", "seed-catalog"])
            .current_dir(workdir.path())
            .output()
            .unwrap();
        assert!(output.status.success(), "{output:?}");
        assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), expected);
    };
    seed("added 24 demo matters");
    seed("added 0 demo matters");

    let server = Server::start(workdir.path(), &[], &env);
    let (_, page) = get_json(&format!("{}/v1/matters?life_event=birth", server.base_url));
    let names: Vec<&str> = page["matters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"]["zh"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"新生儿出生一件事"), "{names:?}");
}
