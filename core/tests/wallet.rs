//! The wallet as the app uses it, and as a crash, a thief or a bad disk would
//! treat it: round trips, sealed rows, every bad-file case, backup to another
//! device, and a writer killed with SIGKILL many times.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use yiwang_core::credential::{
    Enrolment, HolderCredential, Issuer, PresentationRequest, VerificationPolicy, verify,
};
use yiwang_core::crypto::{KeyAlias, KeyStore, SoftwareKeyStore, Suite, random_bytes};
use yiwang_core::identity::IdNumber;
use yiwang_core::wallet::{BackupParams, RecordKind, Wallet, WalletError, WalletOptions};

const NOW: i64 = 1_795_320_000;

fn cheap_backup() -> BackupParams {
    BackupParams {
        memory_kib: 1024,
        iterations: 1,
        parallelism: 1,
    }
}

async fn open(path: &Path, store: &Arc<SoftwareKeyStore>) -> Result<Wallet, WalletError> {
    Wallet::open(path, store.clone(), WalletOptions::default()).await
}

fn issued(device: &SoftwareKeyStore, alias: &KeyAlias) -> (Issuer, HolderCredential) {
    let store = Arc::new(SoftwareKeyStore::in_memory());
    let issuer_alias = KeyAlias::new("issuer").unwrap();
    store.generate(&issuer_alias, Suite::Gm).unwrap();
    let issuer = Issuer::new(store, issuer_alias, [9; 32]).unwrap();
    let device_key = device.generate(alias, Suite::Gm).unwrap();
    let enrolment = Enrolment {
        name: "张三".into(),
        id_number: IdNumber::parse("11010519491231002X").unwrap(),
        photo_digest: [1; 32],
    };
    let credential = issuer.issue(&enrolment, &device_key, 0, NOW - 60).unwrap();
    (issuer, credential)
}

fn file_bytes(path: &Path) -> Vec<u8> {
    let mut all = std::fs::read(path).unwrap_or_default();
    for suffix in ["-wal", "-shm"] {
        all.extend(std::fs::read(format!("{}{suffix}", path.display())).unwrap_or_default());
    }
    all
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn credential_round_trip_and_no_plaintext_on_disk() {
    for suite in Suite::ALL {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wallet.db");
        let keys = Arc::new(SoftwareKeyStore::in_memory());
        let device_alias = KeyAlias::new("device").unwrap();
        let (issuer, credential) = issued(&keys, &device_alias);
        {
            let options = WalletOptions {
                suite,
                ..WalletOptions::default()
            };
            let wallet = Wallet::open(&path, keys.clone(), options).await.unwrap();
            assert_eq!(wallet.suite(), suite);
            wallet.put_credential(&credential, NOW).await.unwrap();
            // Storing the re-issued credential again replaces, not duplicates.
            wallet.put_credential(&credential, NOW + 1).await.unwrap();
            assert_eq!(wallet.credentials().await.unwrap().len(), 1);
            let bytes = file_bytes(&path);
            for secret in [
                "张三",
                "11010519491231002X",
                "1949-12-31",
                credential.network_id().unwrap(),
            ] {
                assert!(!contains(&bytes, secret.as_bytes()), "{secret} on disk");
            }
            wallet.close().await;
        }
        let wallet = open(&path, &keys).await.unwrap();
        let stored = wallet.credentials().await.unwrap();
        assert_eq!(stored.len(), 1);
        let qr = stored[0]
            .1
            .present(
                &PresentationRequest::new("window"),
                keys.as_ref(),
                &device_alias,
                NOW,
            )
            .unwrap();
        verify(
            &qr,
            &VerificationPolicy::new(vec![issuer.public_key().clone()], "window", NOW),
        )
        .unwrap();
        wallet.integrity_check().await.unwrap();
    }
}

#[tokio::test]
async fn records_put_find_replace_delete() {
    let dir = tempfile::tempdir().unwrap();
    let keys = Arc::new(SoftwareKeyStore::in_memory());
    let wallet = open(&dir.path().join("w.db"), &keys).await.unwrap();
    let a = wallet
        .put(RecordKind::Draft, Some("draft-a"), b"v1", NOW)
        .await
        .unwrap();
    let b = wallet
        .put(RecordKind::Draft, Some("draft-b"), b"other", NOW)
        .await
        .unwrap();
    assert_ne!(a, b);
    assert_eq!(
        wallet
            .put(RecordKind::Draft, Some("draft-a"), b"v2", NOW + 5)
            .await
            .unwrap(),
        a
    );
    let found = wallet
        .find(RecordKind::Draft, "draft-a")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (found.payload.as_slice(), found.created_at, found.updated_at),
        (&b"v2"[..], NOW, NOW + 5)
    );
    assert_eq!(found.key.as_deref(), Some("draft-a"));
    // Same key, other kind: another record.
    wallet
        .put(RecordKind::Receipt, Some("draft-a"), b"receipt", NOW)
        .await
        .unwrap();
    assert_eq!(wallet.list(RecordKind::Draft).await.unwrap().len(), 2);
    assert!(
        wallet
            .find(RecordKind::Licence, "draft-a")
            .await
            .unwrap()
            .is_none()
    );
    assert!(wallet.delete(a).await.unwrap());
    assert!(!wallet.delete(a).await.unwrap());
    assert_eq!(wallet.get(a).await.unwrap_err().code(), "YW-1706");
    assert!(!format!("{found:?}").contains("v2"));
}

async fn raw(path: &Path) -> sqlx::SqlitePool {
    sqlx::SqlitePool::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap()
}

#[tokio::test]
async fn swapped_or_copied_ciphertexts_do_not_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.db");
    let keys = Arc::new(SoftwareKeyStore::in_memory());
    let wallet = open(&path, &keys).await.unwrap();
    let a = wallet
        .put(RecordKind::Licence, None, b"licence A", NOW)
        .await
        .unwrap();
    let b = wallet
        .put(RecordKind::Licence, None, b"licence B", NOW)
        .await
        .unwrap();
    wallet.close().await;

    let pool = raw(&path).await;
    let body_a: Vec<u8> = sqlx::query_scalar("SELECT body FROM records WHERE id = ?")
        .bind(a)
        .fetch_one(&pool)
        .await
        .unwrap();
    sqlx::query("UPDATE records SET body = ? WHERE id = ?")
        .bind(&body_a)
        .bind(b)
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let wallet = open(&path, &keys).await.unwrap();
    assert_eq!(wallet.get(a).await.unwrap().payload, b"licence A");
    assert_eq!(wallet.get(b).await.unwrap_err().code(), "YW-1705");
    assert_eq!(
        wallet.integrity_check().await.unwrap_err().code(),
        "YW-1705"
    );
    wallet.close().await;

    // A body from another wallet (another data key), even under the same row id.
    let other_path = dir.path().join("other.db");
    let other = open(&other_path, &Arc::new(SoftwareKeyStore::in_memory()))
        .await
        .unwrap();
    let c = other
        .put(RecordKind::Licence, None, b"licence C", NOW)
        .await
        .unwrap();
    other.close().await;
    let pool = raw(&other_path).await;
    let body_c: Vec<u8> = sqlx::query_scalar("SELECT body FROM records WHERE id = ?")
        .bind(c)
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    let pool = raw(&path).await;
    sqlx::query("UPDATE records SET id = ?, body = ? WHERE id = ?")
        .bind(c)
        .bind(&body_c)
        .bind(a)
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let wallet = open(&path, &keys).await.unwrap();
    assert_eq!(wallet.get(c).await.unwrap_err().code(), "YW-1705");
}

/// Opens `path` expecting `code`, and checks the file was not changed.
async fn refused(path: &Path, keys: &Arc<SoftwareKeyStore>, code: &str) {
    let before = std::fs::read(path).unwrap();
    let err = open(path, keys).await.unwrap_err();
    assert_eq!(err.code(), code, "{err}");
    assert_eq!(
        std::fs::read(path).unwrap(),
        before,
        "the file was modified"
    );
}

async fn filled_wallet(dir: &Path) -> (PathBuf, Arc<SoftwareKeyStore>) {
    let path = dir.join("w.db");
    let keys = Arc::new(SoftwareKeyStore::in_memory());
    let wallet = open(&path, &keys).await.unwrap();
    for i in 0..200 {
        wallet
            .put(
                RecordKind::InboxMessage,
                Some(&format!("m{i}")),
                &[7u8; 500],
                NOW,
            )
            .await
            .unwrap();
    }
    // Checkpoint so that everything is in the main file.
    sqlx_checkpoint(&wallet, &path).await;
    (path, keys)
}

async fn sqlx_checkpoint(wallet: &Wallet, path: &Path) {
    wallet.close().await;
    let pool = raw(path).await;
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
}

#[tokio::test]
async fn wrong_key_is_refused_and_nothing_is_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _keys) = filled_wallet(dir.path()).await;
    refused(&path, &Arc::new(SoftwareKeyStore::in_memory()), "YW-1701").await;
    // Same alias, another key.
    let other = Arc::new(SoftwareKeyStore::in_memory());
    other
        .generate_wrapping_key(&WalletOptions::default().key_alias, Suite::Gm)
        .unwrap();
    refused(&path, &other, "YW-1701").await;
}

#[tokio::test]
async fn corrupted_truncated_and_foreign_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (path, keys) = filled_wallet(dir.path()).await;
    let good = std::fs::read(&path).unwrap();

    // Not a database at all.
    let garbage = dir.path().join("garbage.db");
    std::fs::write(&garbage, vec![0x5a; 8192]).unwrap();
    refused(&garbage, &keys, "YW-1702").await;

    // Truncated: half of the file, a few bytes, nothing.
    let half = dir.path().join("half.db");
    std::fs::write(&half, &good[..good.len() / 2]).unwrap();
    refused(&half, &keys, "YW-1703").await;
    let tiny = dir.path().join("tiny.db");
    std::fs::write(&tiny, &good[..10]).unwrap();
    refused(&tiny, &keys, "YW-1703").await;
    let empty = dir.path().join("empty.db");
    std::fs::write(&empty, b"").unwrap();
    refused(&empty, &keys, "YW-1703").await;

    // Damaged pages in the middle (the b-tree structure, not only a body).
    let damaged = dir.path().join("damaged.db");
    let mut bytes = good.clone();
    let page = 4096;
    for p in [1usize, 2, 3] {
        for b in &mut bytes[p * page..p * page + 64] {
            *b ^= 0xa5;
        }
    }
    std::fs::write(&damaged, &bytes).unwrap();
    let err = open(&damaged, &keys).await.unwrap_err();
    assert!(matches!(err.code(), "YW-1702" | "YW-1705"), "{err}");
}

#[tokio::test]
async fn a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (path, keys) = filled_wallet(dir.path()).await;
    let pool = raw(&path).await;
    sqlx::query("INSERT INTO _sqlx_migrations (version, description, installed_on, success, checksum, execution_time) VALUES (99, 'from the future', CURRENT_TIMESTAMP, 1, x'00', 0)")
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    refused(&path, &keys, "YW-1704").await;
}

#[tokio::test]
async fn backup_to_another_device() {
    let dir = tempfile::tempdir().unwrap();
    let keys = Arc::new(SoftwareKeyStore::in_memory());
    let wallet = open(&dir.path().join("phone-1.db"), &keys).await.unwrap();
    let device_alias = KeyAlias::new("device").unwrap();
    let (_issuer, credential) = issued(&keys, &device_alias);
    wallet.put_credential(&credential, NOW).await.unwrap();
    wallet
        .put(RecordKind::Draft, Some("d1"), b"{\"draft\":1}", NOW)
        .await
        .unwrap();
    wallet
        .put(RecordKind::Receipt, None, b"receipt", NOW)
        .await
        .unwrap();
    let backup = wallet
        .export_backup("正确 horse battery", cheap_backup())
        .await
        .unwrap();
    assert!(!contains(&backup, "张三".as_bytes()));

    let new_keys = Arc::new(SoftwareKeyStore::in_memory());
    let phone_2 = open(&dir.path().join("phone-2.db"), &new_keys)
        .await
        .unwrap();
    assert_eq!(
        phone_2
            .import_backup(&backup, "wrong")
            .await
            .unwrap_err()
            .code(),
        "YW-1707"
    );
    let summary = phone_2
        .import_backup(&backup, "正确 horse battery")
        .await
        .unwrap();
    assert_eq!(summary.records, 3);
    assert_eq!(
        phone_2.credentials().await.unwrap()[0].1.network_id(),
        credential.network_id()
    );
    assert_eq!(
        phone_2
            .find(RecordKind::Draft, "d1")
            .await
            .unwrap()
            .unwrap()
            .payload,
        b"{\"draft\":1}"
    );
    // Importing twice does not duplicate keyed records.
    phone_2
        .import_backup(&backup, "正确 horse battery")
        .await
        .unwrap();
    assert_eq!(phone_2.list(RecordKind::Draft).await.unwrap().len(), 1);

    let mut damaged = backup.clone();
    let last = damaged.len() - 1;
    damaged[last] ^= 1;
    assert_eq!(
        phone_2
            .import_backup(&damaged, "正确 horse battery")
            .await
            .unwrap_err()
            .code(),
        "YW-1707"
    );
    assert_eq!(
        phone_2
            .import_backup(b"YWBK", "x")
            .await
            .unwrap_err()
            .code(),
        "YW-1708"
    );
    assert_eq!(
        phone_2
            .import_backup(b"not a backup at all, not at all", "x")
            .await
            .unwrap_err()
            .code(),
        "YW-1708"
    );
    let mut huge = backup.clone();
    huge[6..10].copy_from_slice(&u32::MAX.to_be_bytes());
    assert_eq!(
        phone_2.import_backup(&huge, "x").await.unwrap_err().code(),
        "YW-1708"
    );
}

/// Child half of the kill test: writes receipts `r<n>` from `start` on, and
/// prints `committed <n>` after each commit. Does nothing unless asked to.
#[tokio::test]
async fn kill_test_child() {
    let Ok(dir) = std::env::var("YW_WALLET_KILL_DIR") else {
        return;
    };
    let start: u64 = std::env::var("YW_WALLET_KILL_START")
        .unwrap()
        .parse()
        .unwrap();
    let keys = Arc::new(SoftwareKeyStore::open(Path::new(&dir).join("keys")).unwrap());
    let wallet = open(&Path::new(&dir).join("wallet.db"), &keys)
        .await
        .unwrap();
    use std::io::Write;
    for n in start.. {
        let payload = n.to_be_bytes().repeat(64);
        wallet
            .put(RecordKind::Receipt, Some(&format!("r{n}")), &payload, NOW)
            .await
            .unwrap();
        // A second record in one go, to interrupt transactions of different shapes.
        if n % 3 == 0 {
            wallet
                .put(RecordKind::InboxMessage, None, &payload, NOW)
                .await
                .unwrap();
        }
        let mut out = std::io::stdout().lock();
        writeln!(out, "committed {n}").unwrap();
        out.flush().unwrap();
    }
}

#[test]
fn killed_writers_lose_nothing_committed() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let rounds = 25;
    let mut committed: Vec<u64> = Vec::new();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    for round in 0..rounds {
        let start = round * 1_000_000;
        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "kill_test_child",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("YW_WALLET_KILL_DIR", dir.path())
            .env("YW_WALLET_KILL_START", start.to_string())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                if let Some(n) = line.strip_prefix("committed ") {
                    let _ = tx.send(n.parse::<u64>().unwrap());
                }
            }
        });
        // Wait for the first commit, then kill at a random moment (5-150 ms later).
        let first = rx
            .recv_timeout(std::time::Duration::from_secs(60))
            .expect("child wrote nothing");
        let mut delay = [0u8; 1];
        random_bytes(&mut delay).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(
            5 + u64::from(delay[0]) * 145 / 255,
        ));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        reader.join().unwrap();
        committed.push(first);
        committed.extend(rx.try_iter());

        let keys = Arc::new(SoftwareKeyStore::open(dir.path().join("keys")).unwrap());
        runtime.block_on(async {
            let wallet = open(&dir.path().join("wallet.db"), &keys).await.unwrap();
            wallet.integrity_check().await.unwrap();
            for n in &committed {
                let record = wallet
                    .find(RecordKind::Receipt, &format!("r{n}"))
                    .await
                    .unwrap();
                assert_eq!(
                    record.unwrap().payload,
                    n.to_be_bytes().repeat(64),
                    "round {round}: r{n} lost"
                );
            }
            wallet.close().await;
        });
    }
    println!(
        "{rounds} kills, {} committed writes checked",
        committed.len()
    );
    assert!(committed.len() >= rounds as usize);
}

#[tokio::test]
async fn licences_listed_replaced_and_expiring() {
    use time::macros::date;
    use yiwang_core::credential::{HolderCode, Licence};
    use yiwang_core::identity::{LicenceId, RegionCode, Uscc};
    let dir = tempfile::tempdir().unwrap();
    let keys = Arc::new(SoftwareKeyStore::in_memory());
    let alias = KeyAlias::new("device").unwrap();
    let (issuer, _) = issued(&keys, &alias);
    let device_key = keys.public_key(&alias).unwrap();
    let wallet = open(&dir.path().join("w.db"), &keys).await.unwrap();
    let authority = Uscc::parse("91350100M000100Y43").unwrap();
    let licence = |serial: &str, version: u16, until: Option<time::Date>| Licence {
        name: "机动车驾驶证".into(),
        identifier: LicenceId::new("11100000000013338W011", &authority, serial, version).unwrap(),
        number: serial.into(),
        issuer_name: "福州市公安局交通警察支队".into(),
        issue_date: date!(2020 - 01 - 01),
        holder_name: "张三".into(),
        holder: HolderCode::Citizen(IdNumber::parse("11010519491231002X").unwrap()),
        valid_from: date!(2020 - 01 - 01),
        valid_until: until,
        jurisdiction: RegionCode::parse("350100").unwrap(),
    };
    let soon = issuer
        .issue_licence(
            &licence("A1", 1, Some(date!(2026 - 12 - 10))),
            &device_key,
            1,
            NOW,
        )
        .unwrap();
    let later = issuer
        .issue_licence(
            &licence("B2", 1, Some(date!(2027 - 06 - 01))),
            &device_key,
            2,
            NOW,
        )
        .unwrap();
    let forever = issuer
        .issue_licence(&licence("C3", 1, None), &device_key, 3, NOW)
        .unwrap();
    for l in [&later, &soon, &forever] {
        wallet.put_credential(l, NOW).await.unwrap();
    }
    assert_eq!(wallet.licences().await.unwrap().len(), 3);
    assert!(wallet.credentials().await.unwrap().is_empty());
    let identifier = forever
        .text(yiwang_core::credential::Claim::Identifier)
        .unwrap()
        .to_owned();
    let (record_id, stored) = wallet.licence(&identifier).await.unwrap().unwrap();
    assert_eq!(stored.valid_until(), None);
    assert!(
        wallet
            .licence("1.2.156.3005.2.nope")
            .await
            .unwrap()
            .is_none()
    );

    let today = date!(2026 - 11 - 22);
    let in_30 = wallet.licences_expiring(today, 30).await.unwrap();
    assert_eq!(in_30.len(), 1);
    assert_eq!(in_30[0].1.valid_until(), Some(date!(2026 - 12 - 10)));
    let in_365: Vec<_> = wallet
        .licences_expiring(today, 365)
        .await
        .unwrap()
        .into_iter()
        .map(|(_, l)| l.valid_until())
        .collect();
    assert_eq!(
        in_365,
        vec![Some(date!(2026 - 12 - 10)), Some(date!(2027 - 06 - 01))]
    );

    // An update of the same licence (same identifier) replaces it.
    let renewed = issuer
        .issue_licence(
            &licence("A1", 1, Some(date!(2032 - 12 - 10))),
            &device_key,
            4,
            NOW,
        )
        .unwrap();
    wallet.put_credential(&renewed, NOW + 1).await.unwrap();
    assert_eq!(wallet.licences().await.unwrap().len(), 3);
    assert!(
        wallet
            .licences_expiring(today, 30)
            .await
            .unwrap()
            .is_empty()
    );
    // Its next version (identifier version 002) replaces every other version
    // of it, and only of it.
    let version_2 = issuer
        .issue_licence(
            &licence("A1", 2, Some(date!(2033 - 01 - 01))),
            &device_key,
            5,
            NOW,
        )
        .unwrap();
    wallet.put_credential(&version_2, NOW + 2).await.unwrap();
    let held: Vec<String> = wallet
        .licences()
        .await
        .unwrap()
        .into_iter()
        .map(|(_, l)| {
            l.text(yiwang_core::credential::Claim::Identifier)
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(held.len(), 3);
    let a1: Vec<_> = held
        .iter()
        .map(|i| LicenceId::parse(i).unwrap())
        .filter(|i| i.serial() == "A1")
        .collect();
    assert_eq!(a1.len(), 1);
    assert_eq!(a1[0].version(), 2);
    assert!(wallet.delete(record_id).await.unwrap());
    assert_eq!(wallet.licences().await.unwrap().len(), 2);
}

/// The 老年人优待证 form end to end in the wallet: prefill from the stored
/// 网证, autosave, reopen, expiry purge, submission receipt.
#[tokio::test]
async fn drafts_prefill_save_reopen_submit_and_purge() {
    use serde_json::json;
    use yiwang_core::forms::{Draft, FormSchema};
    let schema = FormSchema::from_json(include_str!("../forms/senior-card.json")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.db");
    let keys = Arc::new(SoftwareKeyStore::in_memory());
    let alias = KeyAlias::new("device").unwrap();
    let (_issuer, credential) = issued(&keys, &alias);
    let wallet = open(&path, &keys).await.unwrap();
    wallet.put_credential(&credential, NOW).await.unwrap();

    let prefill = wallet.prefill_values().await.unwrap();
    assert_eq!(prefill["credential.name"], "张三");
    let mut draft = Draft::new(&schema, NOW).unwrap();
    let filled = draft.prefill(&schema, &prefill);
    assert!(filled.contains(&"name".to_owned()) && filled.contains(&"id_number".to_owned()));
    assert!(
        draft.set(&schema, "name", json!("李四")).is_err(),
        "government data is read-only"
    );
    draft.set(&schema, "phone", json!("13800138000")).unwrap();
    draft.save(NOW);
    wallet.save_draft(&draft, NOW).await.unwrap();
    draft
        .set(&schema, "emergency_contact_name", json!("张小三"))
        .unwrap();
    draft.save(NOW + 60);
    wallet.save_draft(&draft, NOW + 60).await.unwrap();
    wallet.close().await;

    // Another session: the draft and its history are there, sealed on disk.
    assert!(!contains(&file_bytes(&path), "张小三".as_bytes()));
    let wallet = open(&path, &keys).await.unwrap();
    let stored = wallet.draft(draft.id()).await.unwrap().unwrap();
    assert_eq!(stored.values(), draft.values());
    assert_eq!(stored.revisions().len(), 2);
    assert!(stored.is_government("name"));
    assert_eq!(
        wallet
            .drafts_for_matter(schema.matter_code())
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(wallet.drafts_for_matter("OTHER").await.unwrap().is_empty());

    // Reminder before the 30-day purge, then the purge.
    let ttl = Draft::DEFAULT_TTL_SECS;
    assert!(
        wallet
            .drafts_needing_reminder(NOW + 60 + ttl - 3600, ttl, 3 * 86_400)
            .await
            .unwrap()
            .len()
            == 1
    );
    assert_eq!(
        wallet
            .purge_expired_drafts(NOW + 60 + ttl - 10, ttl)
            .await
            .unwrap(),
        0
    );
    let mut old = Draft::new(&schema, NOW - ttl - 100).unwrap();
    old.save(NOW - ttl - 100);
    wallet.save_draft(&old, NOW - ttl - 100).await.unwrap();
    assert_eq!(wallet.purge_expired_drafts(NOW, ttl).await.unwrap(), 1);
    assert!(wallet.draft(old.id()).await.unwrap().is_none());

    // Submission: the receipt is kept, the draft removed.
    let mut complete = stored.clone();
    for (field, value) in [
        (
            "residence_address",
            json!({"region": "110105", "detail": "朝阳区某街道1号"}),
        ),
        (
            "photo",
            json!({"sha256": "ab".repeat(32), "media_type": "image/jpeg", "size": 120_000}),
        ),
        ("emergency_contact_relation", json!("child")),
        ("emergency_contact_phone", json!("13900139000")),
        ("collect_method", json!("pickup")),
    ] {
        complete.set(&schema, field, value).unwrap();
    }
    let today = yiwang_core::credential::china_date(NOW).unwrap();
    let submission = complete
        .submission(&schema, today)
        .unwrap_or_else(|problems| panic!("{problems:?}"));
    wallet
        .record_submission(&submission, "BJ2026112200001", NOW)
        .await
        .unwrap();
    assert!(wallet.draft(draft.id()).await.unwrap().is_none());
    let receipts = wallet.receipts().await.unwrap();
    assert_eq!(receipts[0]["receipt_number"], "BJ2026112200001");
    assert_eq!(
        receipts[0]["submission"]["matter_code"],
        schema.matter_code()
    );
}
