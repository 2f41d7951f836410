//! The trust list: two regions' authorities, key rotation, types an authority
//! is not listed for, and licence attestations.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use yiwang_core::credential::{
    Authority, CredentialError, Enrolment, HolderCode, HolderCredential, Issuer, Licence,
    PresentationRequest, TrustList, TrustedKey, VerificationPolicy, verify_attestation,
    verify_trusted,
};
use yiwang_core::crypto::{KeyAlias, KeyStore, SoftwareKeyStore, Suite, VerifyingKey};
use yiwang_core::identity::{IdNumber, LicenceId, RegionCode, Uscc};

const NOW: i64 = 1_795_320_000;
const WINDOW: &str = "window:350102-01";
/// 福建 (Fuzhou civil affairs) and a national authority standing for another region.
const FUJIAN: &str = "91350100M000100Y43";
const OTHER: &str = "11100000MB0143028R";
const MARRIAGE: &str = "11100000000013338W011";
const BIRTH: &str = "11100000MB0143028R001";

fn issuer(suite: Suite, seed: u8) -> Issuer {
    let store = Arc::new(SoftwareKeyStore::in_memory());
    let alias = KeyAlias::new("issuer").unwrap();
    store.generate(&alias, suite).unwrap();
    Issuer::new(store, alias, [seed; 32]).unwrap()
}

fn key(issuer: &Issuer, not_before: i64, not_after: Option<i64>) -> TrustedKey {
    TrustedKey::new(issuer.public_key().clone(), not_before, not_after)
}

fn authority(uscc: &str, region: &str, types: &[&str], keys: Vec<TrustedKey>) -> Authority {
    Authority {
        uscc: Some(Uscc::parse(uscc).unwrap()),
        name: format!("authority {region}"),
        region: region.into(),
        network_id: false,
        licence_types: types.iter().map(|t| (*t).to_owned()).collect(),
        keys,
    }
}

fn licence(type_code: &str, issuer: &str, serial: &str) -> Licence {
    let issuer = Uscc::parse(issuer).unwrap();
    Licence {
        name: "结婚证".into(),
        identifier: LicenceId::new(type_code, &issuer, serial, 1).unwrap(),
        number: serial.into(),
        issuer_name: "民政局".into(),
        issue_date: time::macros::date!(2026 - 05 - 20),
        holder_name: "张三".into(),
        holder: HolderCode::Citizen(IdNumber::parse("11010519491231002X").unwrap()),
        valid_from: time::macros::date!(2026 - 05 - 20),
        valid_until: None,
        jurisdiction: RegionCode::parse("350102").unwrap(),
    }
}

struct Device {
    store: SoftwareKeyStore,
    alias: KeyAlias,
    key: VerifyingKey,
}

fn device() -> Device {
    let store = SoftwareKeyStore::in_memory();
    let alias = KeyAlias::new("device").unwrap();
    let key = store.generate(&alias, Suite::Gm).unwrap();
    Device { store, alias, key }
}

fn present(credential: &HolderCredential, device: &Device, list: &str) -> String {
    let request = PresentationRequest::new(WINDOW)
        .with_disclosure_list(list)
        .unwrap();
    credential
        .present(&request, &device.store, &device.alias, NOW)
        .unwrap()
}

fn policy() -> VerificationPolicy {
    VerificationPolicy::new(Vec::new(), WINDOW, NOW)
}

/// Signs `list` with `anchor` and reads it back as an app would.
fn published(anchor: &Issuer, authorities: Vec<Authority>) -> TrustList {
    let list = TrustList {
        issued_at: NOW - 60,
        max_age_secs: 86_400,
        authorities,
    };
    let token = anchor.sign_trust_list(&list).unwrap();
    let read = TrustList::verify(&token, anchor.public_key(), NOW).unwrap();
    assert_eq!(read, list);
    read
}

fn code<T: std::fmt::Debug>(r: Result<T, CredentialError>) -> &'static str {
    r.unwrap_err().code()
}

#[test]
fn licences_of_two_regions_verify_against_one_list() {
    let anchor = issuer(Suite::Gm, 1);
    let (fujian, other) = (issuer(Suite::Gm, 2), issuer(Suite::Intl, 3));
    let mut netid = authority(OTHER, "110000", &[], vec![key(&anchor, 0, None)]);
    netid.uscc = None;
    netid.network_id = true;
    let trust = published(
        &anchor,
        vec![
            authority(FUJIAN, "350100", &[MARRIAGE], vec![key(&fujian, 0, None)]),
            authority(OTHER, "110000", &[BIRTH], vec![key(&other, 0, None)]),
            netid,
        ],
    );
    let phone = device();
    let ours = fujian
        .issue_licence(&licence(MARRIAGE, FUJIAN, "J1"), &phone.key, 1, NOW - 600)
        .unwrap();
    let theirs = other
        .issue_licence(&licence(BIRTH, OTHER, "B1"), &phone.key, 1, NOW - 600)
        .unwrap();
    for credential in [&ours, &theirs] {
        let qr = present(credential, &phone, "type_code,identifier,issuer_code");
        verify_trusted(&qr, &trust, &policy()).unwrap();
    }

    // The 网证 from the listed network-ID issuer verifies; a licence authority's does not.
    let who = Enrolment {
        name: "张三".into(),
        id_number: IdNumber::parse("11010519491231002X").unwrap(),
        photo_digest: [7; 32],
    };
    let netid = anchor.issue(&who, &phone.key, 2, NOW - 600).unwrap();
    verify_trusted(&present(&netid, &phone, "name_masked"), &trust, &policy()).unwrap();
    let forged = fujian.issue(&who, &phone.key, 2, NOW - 600).unwrap();
    assert_eq!(
        code(verify_trusted(
            &present(&forged, &phone, "name_masked"),
            &trust,
            &policy()
        )),
        "YW-1424"
    );

    // An issuer not on the list at all.
    let stranger = issuer(Suite::Gm, 9)
        .issue_licence(&licence(MARRIAGE, FUJIAN, "J2"), &phone.key, 1, NOW - 600)
        .unwrap();
    assert_eq!(
        code(verify_trusted(
            &present(&stranger, &phone, "type_code"),
            &trust,
            &policy()
        )),
        "YW-1403"
    );
}

#[test]
fn an_authority_signing_a_type_it_is_not_listed_for_is_refused() {
    let anchor = issuer(Suite::Gm, 1);
    let fujian = issuer(Suite::Gm, 2);
    let trust = published(
        &anchor,
        vec![authority(
            FUJIAN,
            "350100",
            &[MARRIAGE],
            vec![key(&fujian, 0, None)],
        )],
    );
    let phone = device();
    // A birth certificate type, in Fujian's own name.
    let wrong_type = fujian
        .issue_licence(&licence(BIRTH, FUJIAN, "B1"), &phone.key, 1, NOW - 600)
        .unwrap();
    assert_eq!(
        code(verify_trusted(
            &present(&wrong_type, &phone, "type_code"),
            &trust,
            &policy()
        )),
        "YW-1424"
    );
    // Its own type, but an identifier naming another issuer.
    let other_issuer = fujian
        .issue_licence(&licence(MARRIAGE, OTHER, "J1"), &phone.key, 1, NOW - 600)
        .unwrap();
    assert_eq!(
        code(verify_trusted(
            &present(&other_issuer, &phone, "type_code,identifier"),
            &trust,
            &policy()
        )),
        "YW-1424"
    );
    // Without the type code disclosed, the list cannot be applied.
    let fine = fujian
        .issue_licence(&licence(MARRIAGE, FUJIAN, "J1"), &phone.key, 1, NOW - 600)
        .unwrap();
    assert_eq!(
        code(verify_trusted(
            &present(&fine, &phone, "licence_name"),
            &trust,
            &policy()
        )),
        "YW-1418"
    );
}

#[test]
fn a_rotated_key_keeps_what_it_signed_before_its_end() {
    let anchor = issuer(Suite::Gm, 1);
    let (old, new) = (issuer(Suite::Gm, 2), issuer(Suite::Gm, 3));
    let rotated_at = NOW - 3600;
    let trust = published(
        &anchor,
        vec![authority(
            FUJIAN,
            "350100",
            &[MARRIAGE],
            vec![key(&old, 0, Some(rotated_at)), key(&new, rotated_at, None)],
        )],
    );
    let phone = device();
    let lic = licence(MARRIAGE, FUJIAN, "J1");
    let before = old
        .issue_licence(&lic, &phone.key, 1, rotated_at - 10)
        .unwrap();
    let after = old
        .issue_licence(&lic, &phone.key, 2, rotated_at + 10)
        .unwrap();
    let by_new = new
        .issue_licence(&lic, &phone.key, 3, rotated_at + 10)
        .unwrap();
    verify_trusted(&present(&before, &phone, "type_code"), &trust, &policy()).unwrap();
    verify_trusted(&present(&by_new, &phone, "type_code"), &trust, &policy()).unwrap();
    assert_eq!(
        code(verify_trusted(
            &present(&after, &phone, "type_code"),
            &trust,
            &policy()
        )),
        "YW-1423"
    );
    // Signed before the new key's validity began.
    let early = new
        .issue_licence(&lic, &phone.key, 4, rotated_at - 10)
        .unwrap();
    assert_eq!(
        code(verify_trusted(
            &present(&early, &phone, "type_code"),
            &trust,
            &policy()
        )),
        "YW-1423"
    );
}

#[test]
fn a_trust_list_is_checked_before_it_is_used() {
    let anchor = issuer(Suite::Gm, 1);
    let fujian = issuer(Suite::Gm, 2);
    let list = TrustList {
        issued_at: NOW - 60,
        max_age_secs: 3600,
        authorities: vec![authority(
            FUJIAN,
            "350100",
            &[MARRIAGE],
            vec![key(&fujian, 0, None)],
        )],
    };
    let token = anchor.sign_trust_list(&list).unwrap();
    // Another anchor, a list signed by an authority, a flipped byte, junk.
    let other_anchor = issuer(Suite::Gm, 4);
    assert_eq!(
        code(TrustList::verify(&token, other_anchor.public_key(), NOW)),
        "YW-1421"
    );
    let by_authority = fujian.sign_trust_list(&list).unwrap();
    assert_eq!(
        code(TrustList::verify(&by_authority, anchor.public_key(), NOW)),
        "YW-1421"
    );
    let mut flipped = token.clone();
    let at = flipped.len() / 2;
    flipped[at] ^= 1;
    assert_eq!(
        code(TrustList::verify(&flipped, anchor.public_key(), NOW)),
        "YW-1421"
    );
    assert_eq!(
        code(TrustList::verify(b"junk", anchor.public_key(), NOW)),
        "YW-1421"
    );
    // Past its maximum age: fail closed.
    assert_eq!(
        code(TrustList::verify(&token, anchor.public_key(), NOW + 3600)),
        "YW-1422"
    );
}

#[test]
fn attestations_are_for_one_department_and_short_lived() {
    let anchor = issuer(Suite::Gm, 1);
    let fujian = issuer(Suite::Gm, 2);
    let trust = published(
        &anchor,
        vec![authority(
            FUJIAN,
            "350100",
            &[MARRIAGE],
            vec![key(&fujian, 0, None)],
        )],
    );
    let lic = licence(MARRIAGE, FUJIAN, "J1");
    let dept = "11100000MB1692364P";
    let token = fujian
        .attest_licence(&lic, 7, dept, "YW2026112312345678", NOW - 10)
        .unwrap();
    let verified = verify_attestation(&token, &trust, dept, NOW).unwrap();
    assert_eq!(verified.licence, lic);
    assert_eq!(verified.status_index, 7);
    assert_eq!(verified.authority.as_str(), FUJIAN);
    assert_eq!(verified.context, "YW2026112312345678");
    assert_eq!(
        code(verify_attestation(&token, &trust, "another", NOW)),
        "YW-1411"
    );
    assert_eq!(
        code(verify_attestation(&token, &trust, dept, NOW + 600)),
        "YW-1409"
    );
    // Signed by a key not on the list, or of a type the signer is not listed for.
    let stranger = issuer(Suite::Gm, 5)
        .attest_licence(&lic, 7, dept, "x", NOW)
        .unwrap();
    assert_eq!(
        code(verify_attestation(&stranger, &trust, dept, NOW)),
        "YW-1403"
    );
    let wrong_type = fujian
        .attest_licence(&licence(BIRTH, FUJIAN, "B1"), 7, dept, "x", NOW)
        .unwrap();
    assert_eq!(
        code(verify_attestation(&wrong_type, &trust, dept, NOW)),
        "YW-1424"
    );
    let mut flipped = token.clone();
    let at = flipped.len() - 70;
    flipped[at] ^= 1;
    assert!(verify_attestation(&flipped, &trust, dept, NOW).is_err());
}
