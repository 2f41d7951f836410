//! The network ID credential end to end in the core: issue → present →
//! verify for both suites, selective disclosure, age statements, pairwise
//! identifiers, and one test per rejection kind.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use ciborium::Value;
use yiwang_core::credential::{
    AssuranceMode, Claim, ClaimValue, CredentialError, DerivedClaim, Enrolment, HolderCredential,
    Issuer, PresentationRequest, StatusList, VerificationPolicy, VerifiedStatusList, base45,
    verify,
};
use yiwang_core::crypto::{KeyAlias, KeyStore, SoftwareKeyStore, Suite, VerifyingKey};
use yiwang_core::identity::IdNumber;

/// 2026-11-22 12:00 in Beijing.
const NOW: i64 = 1_795_320_000;
const WINDOW: &str = "window:320106-01";

struct Fixture {
    issuer: Issuer,
    device: SoftwareKeyStore,
    alias: KeyAlias,
    credential: HolderCredential,
}

fn issuer(suite: Suite) -> Issuer {
    let store = Arc::new(SoftwareKeyStore::in_memory());
    let alias = KeyAlias::new("issuer").unwrap();
    store.generate(&alias, suite).unwrap();
    Issuer::new(store, alias, [42; 32]).unwrap()
}

fn enrolment(name: &str, id: &str) -> Enrolment {
    Enrolment {
        name: name.into(),
        id_number: IdNumber::parse(id).unwrap(),
        photo_digest: [7; 32],
    }
}

fn fixture_for(suite: Suite, device_suite: Suite, who: &Enrolment) -> Fixture {
    let issuer = issuer(suite);
    let device = SoftwareKeyStore::in_memory();
    let alias = KeyAlias::new("device").unwrap();
    let device_key = device.generate(&alias, device_suite).unwrap();
    let credential = issuer.issue(who, &device_key, 0, NOW - 86_400).unwrap();
    Fixture {
        issuer,
        device,
        alias,
        credential,
    }
}

fn fixture(suite: Suite) -> Fixture {
    fixture_for(suite, suite, &enrolment("张三", "11010519491231002X"))
}

impl Fixture {
    fn present(&self, request: &PresentationRequest, at: i64) -> Result<String, CredentialError> {
        self.credential
            .present(request, &self.device, &self.alias, at)
    }

    fn policy(&self) -> VerificationPolicy {
        VerificationPolicy::new(vec![self.issuer.public_key().clone()], WINDOW, NOW)
    }
}

fn window_request() -> PresentationRequest {
    PresentationRequest::new(WINDOW)
        .with_disclosure_list("name_masked,id_number_masked,age_over_18")
        .unwrap()
}

fn text(claims: &std::collections::BTreeMap<Claim, ClaimValue>, claim: Claim) -> &str {
    match claims.get(&claim) {
        Some(ClaimValue::Text(t)) => t,
        other => panic!("{claim}: {other:?}"),
    }
}

#[test]
fn window_presentation_round_trip_both_suites() {
    for suite in Suite::ALL {
        let f = fixture(suite);
        let qr = f.present(&window_request(), NOW).unwrap();
        assert!(qr.starts_with("YW1:"));
        let verified = verify(&qr, &f.policy()).unwrap();
        assert_eq!(verified.suite, suite);
        assert_eq!(verified.claims.len(), 2, "only what was asked");
        assert_eq!(text(&verified.claims, Claim::NameMasked), "张*");
        assert_eq!(
            text(&verified.claims, Claim::IdNumberMasked),
            "1101**********002X"
        );
        assert_eq!(verified.derived, vec![DerivedClaim::AgeOver(18)]);
        assert_eq!(verified.mode, AssuranceMode::Credential);
        assert_eq!(verified.presented_at, NOW);
        assert_eq!(verified.pairwise_id.len(), 32);
        assert_eq!(
            verified.issuer_key_id,
            hex::encode(f.issuer.public_key().key_id())
        );
        // Nothing undisclosed travels in the QR: not the name, number or birth date.
        let bytes = base45::decode(&qr[4..]).unwrap();
        for secret in ["张三", "11010519491231002X", "1949-12-31", "YW"] {
            assert!(
                !contains(&bytes, secret.as_bytes()),
                "{suite}: {secret} leaked"
            );
        }
        println!(
            "{suite}: window presentation {} bytes, {} QR characters",
            bytes.len(),
            qr.len()
        );
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn every_claim_can_be_disclosed() {
    let f = fixture(Suite::Gm);
    let all =
        "name,id_number,birth_date,sex,region,photo_digest,network_id,name_masked,id_number_masked";
    let request = PresentationRequest::new(WINDOW)
        .with_disclosure_list(all)
        .unwrap();
    let verified = verify(&f.present(&request, NOW).unwrap(), &f.policy()).unwrap();
    assert_eq!(verified.claims.len(), 9);
    assert_eq!(text(&verified.claims, Claim::Name), "张三");
    assert_eq!(
        text(&verified.claims, Claim::IdNumber),
        "11010519491231002X"
    );
    assert_eq!(text(&verified.claims, Claim::BirthDate), "1949-12-31");
    assert_eq!(text(&verified.claims, Claim::Sex), "female");
    assert_eq!(text(&verified.claims, Claim::Region), "110105");
    assert_eq!(
        verified.claims[&Claim::PhotoDigest],
        ClaimValue::Bytes(vec![7; 32])
    );
    let network_id = text(&verified.claims, Claim::NetworkId);
    assert!(network_id.starts_with("YW") && network_id.len() == 18);
    assert!(
        network_id
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
    );
    assert_eq!(f.credential.network_id(), Some(network_id));
    // Nothing at all: only the pairwise id and the device proof.
    let verified = verify(
        &f.present(&PresentationRequest::new(WINDOW), NOW).unwrap(),
        &f.policy(),
    )
    .unwrap();
    assert!(verified.claims.is_empty() && verified.derived.is_empty());
}

#[test]
fn age_statements_for_any_threshold() {
    // 76 years old on 2026-11-22.
    let f = fixture(Suite::Gm);
    let check = |list: &str| -> Result<Vec<DerivedClaim>, CredentialError> {
        let request = PresentationRequest::new(WINDOW).with_disclosure_list(list)?;
        Ok(verify(&f.present(&request, NOW)?, &f.policy())?.derived)
    };
    assert_eq!(
        check("age_over_76").unwrap(),
        vec![DerivedClaim::AgeOver(76)]
    );
    assert_eq!(
        check("age_over_0,age_over_60").unwrap(),
        vec![DerivedClaim::AgeOver(0), DerivedClaim::AgeOver(60)]
    );
    assert_eq!(
        check("age_under_77").unwrap(),
        vec![DerivedClaim::AgeUnder(77)]
    );
    assert_eq!(check("age_over_77").unwrap_err().code(), "YW-1417");
    assert_eq!(check("age_under_76").unwrap_err().code(), "YW-1417");
    let request = PresentationRequest::new(WINDOW)
        .with_disclosure_list("age_range")
        .unwrap();
    assert_eq!(
        verify(&f.present(&request, NOW).unwrap(), &f.policy())
            .unwrap()
            .age_range
            .as_deref(),
        Some("60+")
    );
    assert_eq!(check("age_over_151").unwrap_err().code(), "YW-1418");

    // 16 years old: 14-17.
    let child = fixture_for(
        Suite::Intl,
        Suite::Intl,
        &enrolment("李小明", "320106201005011235"),
    );
    let request = PresentationRequest::new(WINDOW)
        .with_disclosure_list("age_range")
        .unwrap();
    let verified = verify(&child.present(&request, NOW).unwrap(), &child.policy()).unwrap();
    assert_eq!(verified.age_range.as_deref(), Some("14-17"));
    assert_eq!(
        verified.derived,
        vec![DerivedClaim::AgeOver(14), DerivedClaim::AgeUnder(18)]
    );
    let over_18 = PresentationRequest::new(WINDOW)
        .with_disclosure_list("age_over_18")
        .unwrap();
    assert_eq!(child.present(&over_18, NOW).unwrap_err().code(), "YW-1417");
}

#[test]
fn eighteenth_birthday_is_the_boundary() {
    // Born 2008-11-22: 18 today. Born 2008-11-23: 18 tomorrow.
    let over_18 = PresentationRequest::new(WINDOW)
        .with_disclosure_list("age_over_18")
        .unwrap();
    let today = fixture_for(
        Suite::Gm,
        Suite::Gm,
        &enrolment("王五", "440305200811224566"),
    );
    verify(&today.present(&over_18, NOW).unwrap(), &today.policy()).unwrap();
    let tomorrow = fixture_for(
        Suite::Gm,
        Suite::Gm,
        &enrolment("赵六", "44030520081123457X"),
    );
    assert!(matches!(
        tomorrow.present(&over_18, NOW),
        Err(CredentialError::CannotProve(_))
    ));
    verify(
        &tomorrow.present(&over_18, NOW + 86_400).unwrap(),
        &VerificationPolicy {
            now: NOW + 86_400,
            ..tomorrow.policy()
        },
    )
    .unwrap();
    let under_18 = PresentationRequest::new(WINDOW)
        .with_disclosure_list("age_under_18")
        .unwrap();
    verify(
        &tomorrow.present(&under_18, NOW).unwrap(),
        &tomorrow.policy(),
    )
    .unwrap();
    assert!(matches!(
        today.present(&under_18, NOW),
        Err(CredentialError::CannotProve(_))
    ));
}

#[test]
fn pairwise_ids_are_stable_per_relying_party_and_unlinkable_across() {
    let f = fixture(Suite::Gm);
    let present = |aud: &str| {
        let request = PresentationRequest::new(aud);
        let policy = VerificationPolicy {
            audience: aud.into(),
            ..f.policy()
        };
        verify(&f.present(&request, NOW).unwrap(), &policy)
            .unwrap()
            .pairwise_id
    };
    let a1 = present("rp:tax.gov.cn");
    let a2 = present("rp:tax.gov.cn");
    let b = present("rp:hospital.example");
    assert_eq!(a1, a2);
    assert_ne!(a1, b);
    let network_id = f.credential.network_id().unwrap().to_owned();
    assert_eq!(f.issuer.pairwise_id(&network_id, "rp:tax.gov.cn"), a1);
    // Another person at the same relying party gets another id.
    let other = fixture_for(
        Suite::Gm,
        Suite::Gm,
        &enrolment("王五", "440305200811224566"),
    );
    let other_id = verify(
        &other
            .present(&PresentationRequest::new("rp:tax.gov.cn"), NOW)
            .unwrap(),
        &VerificationPolicy {
            audience: "rp:tax.gov.cn".into(),
            ..other.policy()
        },
    )
    .unwrap()
    .pairwise_id;
    assert_ne!(other_id, a1);
}

#[test]
fn assurance_modes_are_attested() {
    let f = fixture(Suite::Intl);
    for mode in [
        AssuranceMode::Credential,
        AssuranceMode::Pin,
        AssuranceMode::Biometric,
        AssuranceMode::PinAndBiometric,
    ] {
        let request = PresentationRequest {
            mode,
            ..window_request()
        };
        assert_eq!(
            verify(&f.present(&request, NOW).unwrap(), &f.policy())
                .unwrap()
                .mode,
            mode
        );
    }
    // A verifier (or anyone) raising the stated mode breaks the device signature.
    let qr = f.present(&window_request(), NOW).unwrap();
    let forged = rewrite(&qr, |items| items[10] = Value::Integer(3.into()));
    assert_eq!(verify(&forged, &f.policy()).unwrap_err().code(), "YW-1405");
}

#[test]
fn a_hardware_p256_device_key_under_a_gm_issuer() {
    let f = fixture_for(
        Suite::Gm,
        Suite::Intl,
        &enrolment("张三", "11010519491231002X"),
    );
    let verified = verify(&f.present(&window_request(), NOW).unwrap(), &f.policy()).unwrap();
    assert_eq!(verified.suite, Suite::Gm);
}

/// Decodes a presentation, lets `edit` change its top-level items, re-encodes.
fn rewrite(qr: &str, edit: impl FnOnce(&mut Vec<Value>)) -> String {
    let bytes = base45::decode(&qr[4..]).unwrap();
    let Value::Array(mut items) = ciborium::from_reader::<Value, _>(bytes.as_slice()).unwrap()
    else {
        panic!()
    };
    edit(&mut items);
    let mut out = Vec::new();
    ciborium::into_writer(&Value::Array(items), &mut out).unwrap();
    format!("YW1:{}", base45::encode(&out))
}

fn code(result: Result<impl std::fmt::Debug, CredentialError>) -> &'static str {
    result.unwrap_err().code()
}

#[test]
fn rejects_what_is_not_a_presentation() {
    let f = fixture(Suite::Gm);
    let policy = f.policy();
    assert_eq!(code(verify("hello", &policy)), "YW-1401");
    assert_eq!(code(verify("https://gov.cn", &policy)), "YW-1401");
    assert_eq!(code(verify("YW1:", &policy)), "YW-1402");
    assert_eq!(code(verify("YW1:abc", &policy)), "YW-1402");
    assert_eq!(
        code(verify(
            &format!("YW1:{}", base45::encode(b"not cbor at all")),
            &policy
        )),
        "YW-1402"
    );
    let qr = f.present(&window_request(), NOW).unwrap();
    assert_eq!(code(verify(&qr[..qr.len() - 3], &policy)), "YW-1402");
    assert_eq!(
        code(verify(&rewrite(&qr, |items| items.truncate(5)), &policy)),
        "YW-1402"
    );
    assert_eq!(
        code(verify(
            &rewrite(&qr, |items| items[0] = Value::Integer(2.into())),
            &policy
        )),
        "YW-1402"
    );
}

#[test]
fn rejects_an_unknown_issuer() {
    let f = fixture(Suite::Gm);
    let qr = f.present(&window_request(), NOW).unwrap();
    let stranger = issuer(Suite::Gm).public_key().clone();
    let policy = VerificationPolicy {
        trusted_issuers: vec![stranger],
        ..f.policy()
    };
    assert_eq!(code(verify(&qr, &policy)), "YW-1403");
}

#[test]
fn rejects_a_bad_issuer_signature() {
    for suite in Suite::ALL {
        let f = fixture(suite);
        let qr = f.present(&window_request(), NOW).unwrap();
        let forged = rewrite(&qr, |items| {
            let Value::Bytes(mso) = &mut items[1] else {
                panic!()
            };
            let last = mso.len() - 1;
            mso[last] ^= 1;
        });
        assert_eq!(code(verify(&forged, &f.policy())), "YW-1404");
    }
}

#[test]
fn rejects_a_bad_device_signature() {
    let f = fixture(Suite::Gm);
    let qr = f.present(&window_request(), NOW).unwrap();
    let forged = rewrite(&qr, |items| {
        let Value::Bytes(sig) = &mut items[11] else {
            panic!()
        };
        sig[5] ^= 1;
    });
    assert_eq!(code(verify(&forged, &f.policy())), "YW-1405");
    // Moving the timestamp forward to look fresh breaks it too.
    let forged = rewrite(&qr, |items| {
        items[6] = Value::Integer((NOW as u64 + 10).into())
    });
    assert_eq!(code(verify(&forged, &f.policy())), "YW-1405");
}

#[test]
fn rejects_a_disclosed_value_that_does_not_match_its_digest() {
    let f = fixture(Suite::Intl);
    let qr = f.present(&window_request(), NOW).unwrap();
    let forged = rewrite(&qr, |items| {
        let Value::Array(disclosures) = &mut items[2] else {
            panic!()
        };
        let Value::Array(first) = &mut disclosures[0] else {
            panic!()
        };
        first[2] = Value::Text("李*".into());
    });
    assert_eq!(code(verify(&forged, &f.policy())), "YW-1406");
    // A forged age proof (the holder claims a longer chain) fails the same way.
    let forged = rewrite(&qr, |items| {
        let Value::Array(proofs) = &mut items[3] else {
            panic!()
        };
        let Value::Array(first) = &mut proofs[0] else {
            panic!()
        };
        first[1] = Value::Integer(80.into());
    });
    assert_eq!(code(verify(&forged, &f.policy())), "YW-1406");
}

#[test]
fn rejects_expired_and_not_yet_valid_credentials() {
    let f = fixture(Suite::Gm);
    let late = f.credential.expires() + 10;
    let qr = f.present(&window_request(), late).unwrap();
    assert_eq!(
        code(verify(
            &qr,
            &VerificationPolicy {
                now: late,
                ..f.policy()
            }
        )),
        "YW-1407"
    );
    let early = f.credential.not_before() - 3600;
    assert_eq!(
        code(verify(
            &qr,
            &VerificationPolicy {
                now: early,
                ..f.policy()
            }
        )),
        "YW-1408"
    );
}

#[test]
fn rejects_stale_and_future_presentations() {
    let f = fixture(Suite::Gm);
    let qr = f.present(&window_request(), NOW).unwrap();
    // Within 60 s (+30 s skew) it is fine; a screenshot replayed later is not.
    verify(
        &qr,
        &VerificationPolicy {
            now: NOW + 89,
            ..f.policy()
        },
    )
    .unwrap();
    assert_eq!(
        code(verify(
            &qr,
            &VerificationPolicy {
                now: NOW + 91,
                ..f.policy()
            }
        )),
        "YW-1409"
    );
    // The refresh period is the holder's setting, signed.
    let slow = PresentationRequest {
        validity_secs: 300,
        ..window_request()
    };
    verify(
        &f.present(&slow, NOW).unwrap(),
        &VerificationPolicy {
            now: NOW + 200,
            ..f.policy()
        },
    )
    .unwrap();
    let future = f.present(&window_request(), NOW + 120).unwrap();
    assert_eq!(code(verify(&future, &f.policy())), "YW-1410");
}

#[test]
fn rejects_another_audience_and_wrong_nonces() {
    let f = fixture(Suite::Gm);
    let qr = f.present(&window_request(), NOW).unwrap();
    let elsewhere = VerificationPolicy {
        audience: "window:440305-02".into(),
        ..f.policy()
    };
    assert_eq!(code(verify(&qr, &elsewhere)), "YW-1411");

    let with_nonce = PresentationRequest {
        nonce: Some(b"challenge-1".to_vec()),
        ..window_request()
    };
    let qr = f.present(&with_nonce, NOW).unwrap();
    let expects = |nonce: &[u8]| VerificationPolicy {
        nonce: Some(nonce.to_vec()),
        ..f.policy()
    };
    verify(&qr, &expects(b"challenge-1")).unwrap();
    assert_eq!(code(verify(&qr, &expects(b"challenge-2"))), "YW-1412");
    let without = f.present(&window_request(), NOW).unwrap();
    assert_eq!(code(verify(&without, &expects(b"challenge-1"))), "YW-1412");
    // Swapping in the expected nonce breaks the device signature.
    let swapped = rewrite(&qr, |items| {
        items[9] = Value::Bytes(b"challenge-2".to_vec())
    });
    assert_eq!(code(verify(&swapped, &expects(b"challenge-2"))), "YW-1405");
}

fn status(f: &Fixture, list: &StatusList, at: i64, max_age: u32) -> VerifiedStatusList {
    let token = f.issuer.sign_status_list(list, at, max_age).unwrap();
    VerifiedStatusList::verify(&token, &[f.issuer.public_key().clone()]).unwrap()
}

#[test]
fn status_list_revocation_freshness_and_integrity() {
    let f = fixture(Suite::Gm);
    let qr = f.present(&window_request(), NOW).unwrap();
    let mut list = StatusList::new();
    list.revoke(5);
    let fresh = VerificationPolicy {
        status_lists: vec![status(&f, &list, NOW - 60, 3600)],
        ..f.policy()
    };
    verify(&qr, &fresh).unwrap();

    list.revoke(0);
    let revoked = VerificationPolicy {
        status_lists: vec![status(&f, &list, NOW - 60, 3600)],
        ..f.policy()
    };
    assert_eq!(code(verify(&qr, &revoked)), "YW-1413");

    let old = VerificationPolicy {
        status_lists: vec![status(&f, &StatusList::new(), NOW - 7200, 3600)],
        ..f.policy()
    };
    assert_eq!(code(verify(&qr, &old)), "YW-1414");

    let mut token = f.issuer.sign_status_list(&list, NOW, 3600).unwrap();
    let last = token.len() - 1;
    token[last] ^= 1;
    assert_eq!(
        code(VerifiedStatusList::verify(
            &token,
            &[f.issuer.public_key().clone()]
        )),
        "YW-1415"
    );
    assert_eq!(
        code(VerifiedStatusList::verify(
            b"junk",
            &[f.issuer.public_key().clone()]
        )),
        "YW-1415"
    );

    let required = VerificationPolicy {
        require_status: true,
        ..f.policy()
    };
    assert_eq!(code(verify(&qr, &required)), "YW-1416");
}

#[test]
fn reissue_to_a_new_device_revokes_the_old_copy() {
    let issuer = issuer(Suite::Gm);
    let who = enrolment("张三", "11010519491231002X");
    let (old_store, new_store) = (SoftwareKeyStore::in_memory(), SoftwareKeyStore::in_memory());
    let alias = KeyAlias::new("device").unwrap();
    let old = issuer
        .issue(
            &who,
            &old_store.generate(&alias, Suite::Gm).unwrap(),
            0,
            NOW - 100,
        )
        .unwrap();
    let new = issuer
        .issue(
            &who,
            &new_store.generate(&alias, Suite::Gm).unwrap(),
            1,
            NOW - 50,
        )
        .unwrap();
    assert_eq!(
        old.network_id(),
        new.network_id(),
        "the 网号 belongs to the person"
    );
    let mut list = StatusList::new();
    list.revoke(old.status_index());
    let token = issuer.sign_status_list(&list, NOW, 3600).unwrap();
    let trusted = vec![issuer.public_key().clone()];
    let policy = VerificationPolicy {
        status_lists: vec![VerifiedStatusList::verify(&token, &trusted).unwrap()],
        ..VerificationPolicy::new(trusted.clone(), WINDOW, NOW)
    };
    let old_qr = old
        .present(&window_request(), &old_store, &alias, NOW)
        .unwrap();
    let new_qr = new
        .present(&window_request(), &new_store, &alias, NOW)
        .unwrap();
    assert_eq!(code(verify(&old_qr, &policy)), "YW-1413");
    verify(&new_qr, &policy).unwrap();
}

#[test]
fn the_holder_key_must_be_the_bound_device_key() {
    let f = fixture(Suite::Gm);
    let other = SoftwareKeyStore::in_memory();
    other.generate(&f.alias, Suite::Gm).unwrap();
    assert_eq!(
        code(
            f.credential
                .present(&window_request(), &other, &f.alias, NOW)
        ),
        "YW-1420"
    );
    let missing = KeyAlias::new("missing").unwrap();
    assert_eq!(
        code(
            f.credential
                .present(&window_request(), &f.device, &missing, NOW)
        ),
        "YW-1201"
    );
}

#[test]
fn bad_requests_and_enrolments_are_refused() {
    let f = fixture(Suite::Gm);
    assert_eq!(
        code(f.present(&PresentationRequest::new(""), NOW)),
        "YW-1418"
    );
    assert_eq!(
        code(f.present(&PresentationRequest::new("x".repeat(129)), NOW)),
        "YW-1418"
    );
    assert_eq!(
        code(f.present(
            &PresentationRequest {
                validity_secs: 0,
                ..window_request()
            },
            NOW
        )),
        "YW-1418"
    );
    assert_eq!(
        code(f.present(
            &PresentationRequest {
                nonce: Some(vec![1; 65]),
                ..window_request()
            },
            NOW
        )),
        "YW-1418"
    );
    assert_eq!(
        code(PresentationRequest::new(WINDOW).with_disclosure_list("name,shoe_size")),
        "YW-1418"
    );

    let device = f.credential.device_key().clone();
    for name in ["", " 张三", "张\n三", &"名".repeat(65)] {
        let bad = Enrolment {
            name: name.into(),
            ..enrolment("张三", "11010519491231002X")
        };
        assert_eq!(
            code(f.issuer.issue(&bad, &device, 1, NOW)),
            "YW-1419",
            "{name:?}"
        );
    }
    // Born after the issuance date.
    assert_eq!(
        code(f.issuer.issue(
            &enrolment("王五", "440305200811224566"),
            &device,
            1,
            1_000_000_000
        )),
        "YW-1419"
    );
}

#[test]
fn holder_file_round_trips_and_detects_tampering() {
    let f = fixture(Suite::Gm);
    let bytes = f.credential.to_bytes();
    let back = HolderCredential::from_bytes(&bytes).unwrap();
    assert_eq!(back.network_id(), f.credential.network_id());
    assert_eq!(back.status_index(), 0);
    verify(
        &back
            .present(&window_request(), &f.device, &f.alias, NOW)
            .unwrap(),
        &f.policy(),
    )
    .unwrap();

    assert!(HolderCredential::from_bytes(&bytes[..bytes.len() / 2]).is_err());
    assert!(HolderCredential::from_bytes(b"").is_err());
    // Change the stored name: the tree no longer matches the signed root.
    let needle = "张三".as_bytes();
    let at = bytes
        .windows(needle.len())
        .position(|w| w == needle)
        .unwrap();
    let mut tampered = bytes.to_vec();
    tampered[at..at + 3].copy_from_slice("李".as_bytes());
    assert_eq!(code(HolderCredential::from_bytes(&tampered)), "YW-1406");
}

#[test]
fn debug_output_carries_no_personal_data() {
    let f = fixture(Suite::Gm);
    let who = enrolment("张三", "11010519491231002X");
    for text in [
        format!("{:?}", f.credential),
        format!("{who:?}"),
        format!("{:?}", f.issuer),
    ] {
        assert!(
            !text.contains("张三") && !text.contains("11010519491231002X"),
            "{text}"
        );
    }
    let verified = verify(
        &f.present(
            &PresentationRequest::new(WINDOW)
                .with_disclosure_list("name")
                .unwrap(),
            NOW,
        )
        .unwrap(),
        &f.policy(),
    )
    .unwrap();
    assert!(!format!("{verified:?}").contains("张三"));
    let _: &VerifyingKey = f.credential.device_key();
}

/// issue → present → QR PNG → decode the image → verify, both suites; the
/// standard window presentation fits a version-15 code at level M.
#[test]
fn presentation_survives_the_qr_image_and_fits_version_15() {
    use yiwang_core::qr::{QrMatrix, decode_png};
    for suite in Suite::ALL {
        let f = fixture(suite);
        let qr = f.present(&window_request(), NOW).unwrap();
        let matrix = QrMatrix::encode(&qr).unwrap();
        assert!(
            matrix.version() <= 15,
            "{suite}: version {}",
            matrix.version()
        );
        let png = matrix.to_png(4).unwrap();
        let scanned = decode_png(&png).unwrap();
        assert_eq!(scanned, vec![qr.clone()]);
        let verified = verify(&scanned[0], &f.policy()).unwrap();
        assert_eq!(text(&verified.claims, Claim::NameMasked), "张*");
        assert!(matches!(
            yiwang_core::scan::classify(&scanned[0]),
            yiwang_core::scan::Scanned::Presentation(_)
        ));
        println!(
            "{suite}: {} characters, QR version {} (level M), {} modules",
            qr.len(),
            matrix.version(),
            matrix.width()
        );
    }
}

/// QR version and size of typical presentations (recorded in docs/performance.md).
#[test]
fn presentation_sizes() {
    use yiwang_core::qr::QrMatrix;
    let cases = [
        (
            "window: masked name + masked ID + age_over_18",
            "name_masked,id_number_masked,age_over_18",
            None,
        ),
        ("age check only: age_over_18", "age_over_18", None),
        ("age_range", "age_range", None),
        (
            "login: network_id + 16-byte nonce",
            "network_id",
            Some(vec![7u8; 16]),
        ),
        (
            "window + 16-byte nonce",
            "name_masked,id_number_masked,age_over_18",
            Some(vec![7u8; 16]),
        ),
        (
            "everything",
            "name,id_number,birth_date,sex,region,photo_digest,network_id,name_masked,id_number_masked",
            None,
        ),
    ];
    for suite in Suite::ALL {
        let f = fixture(suite);
        for (name, list, nonce) in &cases {
            let request = PresentationRequest {
                nonce: nonce.clone(),
                ..PresentationRequest::new(WINDOW)
                    .with_disclosure_list(list)
                    .unwrap()
            };
            let qr = f.present(&request, NOW).unwrap();
            let version = QrMatrix::encode(&qr).unwrap().version();
            let bytes = base45::decode(&qr[4..]).unwrap().len();
            println!("| {suite} | {name} | {bytes} | {} | {version} |", qr.len());
            assert!(version <= 20, "{name}: version {version}");
        }
    }
}

mod licences {
    use super::*;
    use yiwang_core::credential::{DocType, HolderCode, Licence};
    use yiwang_core::identity::{LicenceId, RegionCode, Uscc};

    pub fn marriage_certificate(holder_id: &str, valid_until: Option<time::Date>) -> Licence {
        let issuer = Uscc::parse("91350100M000100Y43").unwrap();
        Licence {
            name: "结婚证".into(),
            identifier: LicenceId::new("11100000000013338W011", &issuer, "J350100202600123", 1)
                .unwrap(),
            number: "J350100-2026-00123".into(),
            issuer_name: "福州市鼓楼区民政局".into(),
            issue_date: time::macros::date!(2026 - 05 - 20),
            holder_name: "张三".into(),
            holder: HolderCode::Citizen(IdNumber::parse(holder_id).unwrap()),
            valid_from: time::macros::date!(2026 - 05 - 20),
            valid_until,
            jurisdiction: RegionCode::parse("350102").unwrap(),
        }
    }

    fn issued(licence: &Licence) -> Fixture {
        let mut f = fixture(Suite::Gm);
        f.credential = f
            .issuer
            .issue_licence(licence, f.credential.device_key(), 7, NOW - 60)
            .unwrap();
        f
    }

    #[test]
    fn licence_presentation_discloses_only_what_is_asked() {
        let f = issued(&marriage_certificate("11010519491231002X", None));
        assert_eq!(f.credential.doctype(), DocType::Licence);
        assert_eq!(f.credential.valid_until(), None);
        let request = PresentationRequest::new(WINDOW)
            .with_disclosure_list("licence_name,type_code,number,holder_name_masked,valid_until")
            .unwrap();
        let qr = f.present(&request, NOW).unwrap();
        let verified = verify(&qr, &f.policy()).unwrap();
        assert_eq!(verified.doctype, DocType::Licence);
        assert_eq!(text(&verified.claims, Claim::LicenceName), "结婚证");
        assert_eq!(
            text(&verified.claims, Claim::TypeCode),
            "11100000000013338W011"
        );
        assert_eq!(text(&verified.claims, Claim::HolderNameMasked), "张*");
        assert_eq!(text(&verified.claims, Claim::ValidUntil), "长期");
        assert_eq!(verified.claims.len(), 5);
        assert_eq!(verified.status_index, 7);
        let bytes = base45::decode(&qr[4..]).unwrap();
        assert!(
            !contains(&bytes, "11010519491231002X".as_bytes())
                && !contains(&bytes, "张三".as_bytes())
        );
        let matrix = yiwang_core::qr::QrMatrix::encode(&qr).unwrap();
        println!(
            "licence presentation: {} characters, version {}",
            qr.len(),
            matrix.version()
        );
    }

    #[test]
    fn licences_refuse_what_they_do_not_have() {
        let f = issued(&marriage_certificate(
            "11010519491231002X",
            Some(time::macros::date!(2030 - 01 - 01)),
        ));
        let age = PresentationRequest::new(WINDOW)
            .with_disclosure_list("age_over_18")
            .unwrap();
        assert_eq!(code(f.present(&age, NOW)), "YW-1417");
        let netid_claim = PresentationRequest::new(WINDOW)
            .with_disclosure_list("name_masked")
            .unwrap();
        assert_eq!(code(f.present(&netid_claim, NOW)), "YW-1417");
        assert_eq!(
            f.credential.valid_until(),
            Some(time::macros::date!(2030 - 01 - 01))
        );
        // Valid until the end of 2030-01-01 in Beijing, not a second longer.
        let end = f.credential.expires();
        assert_eq!(
            yiwang_core::credential::china_date(end).unwrap(),
            time::macros::date!(2030 - 01 - 01)
        );
        assert_eq!(
            yiwang_core::credential::china_date(end + 1).unwrap(),
            time::macros::date!(2030 - 01 - 02)
        );
        let later = f
            .present(&PresentationRequest::new(WINDOW), end + 10)
            .unwrap();
        assert_eq!(
            code(verify(
                &later,
                &VerificationPolicy {
                    now: end + 10,
                    ..f.policy()
                }
            )),
            "YW-1407"
        );
    }

    #[test]
    fn reference_for_use_in_a_form() {
        let f = issued(&marriage_certificate("11010519491231002X", None));
        let reference = f.credential.licence_reference("申请生育登记").unwrap();
        assert_eq!(reference["reason"], "申请生育登记");
        assert!(
            reference["licence_id"]
                .as_str()
                .unwrap()
                .starts_with("1.2.156.3005.2.11100000000013338W011.")
        );
        assert_eq!(code(f.credential.licence_reference("")), "YW-1418");
        assert_eq!(
            code(f.credential.licence_reference(&"因".repeat(201))),
            "YW-1418"
        );
        f.credential.licence_reference(&"因".repeat(200)).unwrap();
        assert_eq!(
            code(fixture(Suite::Gm).credential.licence_reference("x")),
            "YW-1418"
        );
    }

    #[test]
    fn licence_json_and_bad_licences() {
        let good = marriage_certificate("11010519491231002X", None);
        let json = serde_json::json!({
            "name": "结婚证", "identifier": good.identifier.as_str(), "number": "J350100-2026-00123",
            "issuer_name": "福州市鼓楼区民政局", "issue_date": "2026-05-20", "holder_name": "张三",
            "holder_code": "11010519491231002X", "holder_code_type": "111", "valid_from": "2026-05-20",
            "valid_until": "长期", "jurisdiction": "350102"
        });
        assert_eq!(Licence::from_json(&json.to_string()).unwrap(), good);
        let broken = |field: &str, value: serde_json::Value| {
            let mut j = json.clone();
            j[field] = value;
            Licence::from_json(&j.to_string()).unwrap_err().code()
        };
        assert_eq!(broken("holder_code_type", "999".into()), "YW-1419");
        assert_eq!(
            broken("holder_code", "110105194912310021".into()),
            "YW-1419"
        );
        assert_eq!(broken("identifier", "1.2.156.3005.2.x".into()), "YW-1419");
        assert_eq!(
            broken("valid_until", "2026-01-01".into()),
            "YW-1419",
            "ends before it starts"
        );
        assert_eq!(broken("issue_date", "2026-02-30".into()), "YW-1419");
        assert_eq!(broken("jurisdiction", "990000".into()), "YW-1419");
        assert_eq!(broken("shoe_size", 42.into()), "YW-1419");
        assert_eq!(broken("name", "".into()), "YW-1419");
        // An organisation holder.
        let mut org = json.clone();
        org["holder_code"] = "91350100M000100Y43".into();
        org["holder_code_type"] = "001".into();
        assert!(matches!(
            Licence::from_json(&org.to_string()).unwrap().holder,
            HolderCode::Organisation(_)
        ));
        // An expired licence is not issued.
        let f = fixture(Suite::Gm);
        let expired = marriage_certificate(
            "11010519491231002X",
            Some(time::macros::date!(2026 - 06 - 01)),
        );
        assert_eq!(
            code(
                f.issuer
                    .issue_licence(&expired, f.credential.device_key(), 0, NOW)
            ),
            "YW-1419"
        );
    }
}
