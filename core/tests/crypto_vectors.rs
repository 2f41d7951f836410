//! Published test vectors for both suites, and rejection of damaged inputs.
//! Sources: GB/T 32905 (SM3), GB/T 32907 (SM4), GB/T 32918.2/.5 (SM2),
//! RFC 8998 A.1 (SM4-GCM), RFC 6979 A.2.5 (P-256), the GCM specification's
//! test case 16 (AES-256-GCM), RFC 4231 (HMAC-SHA-256), RFC 5869 (HKDF).
#![allow(clippy::unwrap_used)]

use sm2::pkcs8::EncodePrivateKey;
use sm3::Digest;
use sm4::cipher::{BlockCipherEncrypt, KeyInit};
use yiwang_core::crypto::{CryptoError, SigningKey, Suite, VerifyingKey};

fn h(s: &str) -> Vec<u8> {
    hex::decode(s.replace([' ', '\n'], "")).unwrap()
}

/// DER `SEQUENCE { INTEGER r, INTEGER s }` from big-endian r and s.
fn der_signature(r: &[u8], s: &[u8]) -> Vec<u8> {
    fn int(v: &[u8]) -> Vec<u8> {
        let mut v: Vec<u8> = v.iter().copied().skip_while(|&b| b == 0).collect();
        if v.first().is_none_or(|&b| b & 0x80 != 0) {
            v.insert(0, 0);
        }
        let mut out = vec![0x02, v.len() as u8];
        out.extend(v);
        out
    }
    let body = [int(r), int(s)].concat();
    let mut out = vec![0x30, body.len() as u8];
    out.extend(body);
    out
}

#[test]
fn sm3_gbt32905_examples() {
    assert_eq!(
        Suite::Gm.hash(b"abc").to_vec(),
        h("66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0")
    );
    assert_eq!(
        Suite::Gm.hash("abcd".repeat(16).as_bytes()).to_vec(),
        h("debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732")
    );
}

#[test]
fn sm4_gbt32907_single_block() {
    let key = h("0123456789abcdeffedcba9876543210");
    let cipher = sm4::Sm4::new_from_slice(&key).unwrap();
    let mut block = sm4::cipher::Block::<sm4::Sm4>::try_from(&key[..]).unwrap();
    cipher.encrypt_block(&mut block);
    assert_eq!(block.to_vec(), h("681edf34d206965e86b3e94f536e4246"));
}

/// GB/T 32907 example 2: the block encrypted 1,000,000 times with the same key.
#[test]
fn sm4_gbt32907_million_iterations() {
    let key = h("0123456789abcdeffedcba9876543210");
    let cipher = sm4::Sm4::new_from_slice(&key).unwrap();
    let mut block = sm4::cipher::Block::<sm4::Sm4>::try_from(&key[..]).unwrap();
    for _ in 0..1_000_000 {
        cipher.encrypt_block(&mut block);
    }
    assert_eq!(block.to_vec(), h("595298c7c6fd271f0402f804c33d3f66"));
}

#[test]
fn sm4_gcm_rfc8998_a1() {
    let key = Suite::Gm
        .aead_key(&h("0123456789ABCDEFFEDCBA9876543210"))
        .unwrap();
    let nonce: [u8; 12] = h("00001234567800000000ABCD").try_into().unwrap();
    let aad = h("FEEDFACEDEADBEEFFEEDFACEDEADBEEFABADDAD2");
    let plaintext = h(
        "AAAAAAAAAAAAAAAABBBBBBBBBBBBBBBBCCCCCCCCCCCCCCCCDDDDDDDDDDDDDDDD
                       EEEEEEEEEEEEEEEEFFFFFFFFFFFFFFFFEEEEEEEEEEEEEEEEAAAAAAAAAAAAAAAA",
    );
    let expected = h(
        "17F399F08C67D5EE19D0DC9969C4BB7D5FD46FD3756489069157B282BB200735
                      D82710CA5C22F0CCFA7CBF93D496AC15A56834CBCF98C397B4024A2691233B8D
                      83DE3541E4C2B58177E065A9BF7B62EC",
    );
    assert_eq!(
        key.seal_with_nonce(&nonce, &aad, &plaintext).unwrap(),
        expected
    );
    assert_eq!(
        key.open_with_nonce(&nonce, &aad, &expected).unwrap(),
        plaintext
    );
}

#[test]
fn aes256_gcm_test_case_16() {
    let key = Suite::Intl
        .aead_key(&h(
            "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
        ))
        .unwrap();
    let nonce: [u8; 12] = h("cafebabefacedbaddecaf888").try_into().unwrap();
    let aad = h("feedfacedeadbeeffeedfacedeadbeefabaddad2");
    let plaintext = h(
        "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72
                       1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
    );
    let expected = h(
        "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa
                      8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662
                      76fc6ece0f4e1768cddf8853bb2d551b",
    );
    assert_eq!(
        key.seal_with_nonce(&nonce, &aad, &plaintext).unwrap(),
        expected
    );
    assert_eq!(
        key.open_with_nonce(&nonce, &aad, &expected).unwrap(),
        plaintext
    );
}

#[test]
fn sha256_hmac_hkdf_vectors() {
    assert_eq!(
        Suite::Intl.hash(b"abc").to_vec(),
        h("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    );
    // RFC 4231 test case 2.
    assert_eq!(
        Suite::Intl
            .mac(b"Jefe", b"what do ya want for nothing?")
            .to_vec(),
        h("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    );
    // RFC 5869 test case 1.
    let mut okm = [0u8; 42];
    Suite::Intl
        .kdf(
            &[0x0b; 22],
            &h("000102030405060708090a0b0c"),
            &h("f0f1f2f3f4f5f6f7f8f9"),
            &mut okm,
        )
        .unwrap();
    assert_eq!(
        okm.to_vec(),
        h("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865")
    );
}

/// HMAC-SM3 and HKDF-SM3 have no vectors in their standards; check them
/// against RFC 2104 / RFC 5869 written out here with plain SM3.
#[test]
fn hmac_and_hkdf_sm3_follow_their_rfcs() {
    fn hmac_sm3(key: &[u8], data: &[u8]) -> Vec<u8> {
        let mut k = [0u8; 64];
        if key.len() > 64 {
            k[..32].copy_from_slice(&sm3::Sm3::digest(key));
        } else {
            k[..key.len()].copy_from_slice(key);
        }
        let ipad: Vec<u8> = k.iter().map(|b| b ^ 0x36).collect();
        let opad: Vec<u8> = k.iter().map(|b| b ^ 0x5c).collect();
        let inner = sm3::Sm3::digest([ipad.as_slice(), data].concat());
        sm3::Sm3::digest([opad.as_slice(), inner.as_slice()].concat()).to_vec()
    }
    for key in [&b"k"[..], &[7u8; 64], &[9u8; 100]] {
        assert_eq!(
            Suite::Gm.mac(key, b"message").to_vec(),
            hmac_sm3(key, b"message")
        );
    }
    let (ikm, salt, info) = (b"input key", b"salt", b"info");
    let prk = hmac_sm3(salt, ikm);
    let t1 = hmac_sm3(&prk, &[&info[..], &[1]].concat());
    let t2 = hmac_sm3(&prk, &[&t1[..], &info[..], &[2]].concat());
    let mut okm = [0u8; 40];
    Suite::Gm.kdf(ikm, salt, info, &mut okm).unwrap();
    assert_eq!(okm.to_vec(), [t1, t2].concat()[..40].to_vec());
}

const SM2_D: &str = "3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8";
const SM2_X: &str = "09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020";
const SM2_Y: &str = "CCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13";
const SM2_R: &str = "F5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3";
const SM2_S: &str = "B1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA";

/// GB/T 32918.5 (GM/T 0003.5) example on the recommended curve, default ID,
/// message "message digest": the key pair, Z_A, e, and the signature (r, s).
/// The crate derives k itself (RFC 6979), so the published signature is
/// verified rather than reproduced; Z_A and e are recomputed from the formula.
#[test]
fn sm2_gbt32918_example() {
    let secret = sm2::SecretKey::from_slice(&h(SM2_D)).unwrap();
    let key = SigningKey::from_pkcs8_der(secret.to_pkcs8_der().unwrap().as_bytes()).unwrap();
    assert_eq!(key.suite(), Suite::Gm);
    let public = key.verifying_key().unwrap();
    let point = [h("04"), h(SM2_X), h(SM2_Y)].concat();
    assert_eq!(public.to_sec1_uncompressed(), point);

    // Z_A = SM3(ENTL_A || ID_A || a || b || x_G || y_G || x_A || y_A)
    let curve = h(
        "FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC
                   28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93
                   32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7
                   BC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0",
    );
    let za =
        Suite::Gm.hash(&[&[0x00, 0x80], &b"1234567812345678"[..], &curve, &point[1..]].concat());
    assert_eq!(
        za.to_vec(),
        h("B2E14C5C79C6DF5B85F4FE7ED8DB7A262B9DA7E07CCB0EA9F4747B8CCDA8A4F3")
    );
    let e = Suite::Gm.hash(&[&za[..], b"message digest"].concat());
    assert_eq!(
        e.to_vec(),
        h("F0B43E94BA45ACCAACE692ED534382EB17E6AB5A19CE7B31F4486FDFC0D28640")
    );

    let sig = der_signature(&h(SM2_R), &h(SM2_S));
    public.verify(b"message digest", &sig).unwrap();
    assert_eq!(
        public.verify(b"message digest!", &sig),
        Err(CryptoError::BadSignature)
    );
    let mut wrong_s = h(SM2_S);
    wrong_s[31] ^= 1;
    assert_eq!(
        public.verify(b"message digest", &der_signature(&h(SM2_R), &wrong_s)),
        Err(CryptoError::BadSignature)
    );
    // Raw r || s instead of DER is an encoding error, not a bad signature.
    assert_eq!(
        public.verify(b"message digest", &[h(SM2_R), h(SM2_S)].concat()),
        Err(CryptoError::SignatureEncoding)
    );
    // Our own signature with the standard's key verifies under the published point.
    let ours = key.sign(b"message digest").unwrap();
    VerifyingKey::from_sec1(Suite::Gm, &point)
        .unwrap()
        .verify(b"message digest", &ours)
        .unwrap();
}

/// RFC 6979 A.2.5: P-256 key, SHA-256, messages "sample" and "test".
#[test]
fn p256_rfc6979_vectors() {
    let point = h("04
        60FED4BA255A9D31C961EB74C6356D68C049B8923B61FA6CE669622E60F29FB6
        7903FE1008B8BC99A41AE9E95628BC64F2F1B20C2D7E9F5177A3C294D4462299");
    let public = VerifyingKey::from_sec1(Suite::Intl, &point).unwrap();
    let cases = [
        (
            "sample",
            "EFD48B2AACB6A8FD1140DD9CD45E81D69D2C877B56AAF991C34D0EA84EAF3716",
            "F7CB1C942D657C41D436C7A1B6E29F65F3E900DBB9AFF4064DC4AB2F843ACDA8",
        ),
        (
            "test",
            "F1ABB023518351CD71D881567B1EA663ED3EFCF6C5132B354F28D3B0B7D38367",
            "019F4113742A2B14BD25926B49C649155F267E60D3814B4C0CC84250E46F0083",
        ),
    ];
    for (msg, r, s) in cases {
        let sig = der_signature(&h(r), &h(s));
        public.verify(msg.as_bytes(), &sig).unwrap();
        assert_eq!(
            public.verify(b"other", &sig),
            Err(CryptoError::BadSignature)
        );
    }
    // Signature of one message does not verify for the other.
    let sig = der_signature(&h(cases[0].1), &h(cases[0].2));
    assert_eq!(public.verify(b"test", &sig), Err(CryptoError::BadSignature));
}

#[test]
fn sign_verify_round_trip_and_rejections() {
    for suite in Suite::ALL {
        let key = SigningKey::generate(suite).unwrap();
        let other = SigningKey::generate(suite).unwrap();
        let public = key.verifying_key().unwrap();
        let msg = b"yiwang presentation transcript";
        let sig = key.sign(msg).unwrap();
        public.verify(msg, &sig).unwrap();

        // Wrong key, tampered message, tampered signature, truncated signature.
        assert_eq!(
            other.verifying_key().unwrap().verify(msg, &sig),
            Err(CryptoError::BadSignature)
        );
        assert_eq!(
            public.verify(b"yiwang presentation transcripT", &sig),
            Err(CryptoError::BadSignature)
        );
        let mut tampered = sig.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 0x01;
        assert!(public.verify(msg, &tampered).is_err());
        assert_eq!(
            public.verify(msg, &sig[..sig.len() - 1]),
            Err(CryptoError::SignatureEncoding)
        );
        assert_eq!(public.verify(msg, &[]), Err(CryptoError::SignatureEncoding));

        // The other suite's key rejects it.
        let foreign = SigningKey::generate(if suite == Suite::Gm {
            Suite::Intl
        } else {
            Suite::Gm
        })
        .unwrap();
        assert!(foreign.verifying_key().unwrap().verify(msg, &sig).is_err());
    }
}

#[test]
fn pem_round_trips_and_detects_suite() {
    for suite in Suite::ALL {
        let key = SigningKey::generate(suite).unwrap();
        let pem = key.to_pkcs8_pem().unwrap();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"));
        let back = SigningKey::from_pkcs8_pem(&pem).unwrap();
        assert_eq!(back.suite(), suite);
        assert_eq!(back.verifying_key().unwrap(), key.verifying_key().unwrap());

        let public_pem = key.verifying_key().unwrap().to_spki_pem();
        assert!(public_pem.starts_with("-----BEGIN PUBLIC KEY-----\n"));
        let public = VerifyingKey::from_spki_pem(&public_pem).unwrap();
        assert_eq!(public, key.verifying_key().unwrap());
        public.verify(b"m", &back.sign(b"m").unwrap()).unwrap();

        // Debug never shows private material.
        let debug = format!("{key:?}");
        assert!(
            !debug.contains("PRIVATE") && debug.contains(&format!("{suite:?}")),
            "{debug}"
        );
    }
}

#[test]
fn bad_key_files_are_rejected_with_codes() {
    let key = SigningKey::generate(Suite::Gm).unwrap();
    let private_pem = key.to_pkcs8_pem().unwrap();
    let public_pem = key.verifying_key().unwrap().to_spki_pem();
    // A public key where a private one is expected, and vice versa.
    assert_eq!(
        SigningKey::from_pkcs8_pem(&public_pem).unwrap_err().code(),
        "YW-1101"
    );
    assert_eq!(
        VerifyingKey::from_spki_pem(&private_pem)
            .unwrap_err()
            .code(),
        "YW-1101"
    );
    // Garbage, empty, truncated DER.
    assert_eq!(
        SigningKey::from_pkcs8_pem("not a key").unwrap_err().code(),
        "YW-1101"
    );
    assert_eq!(
        SigningKey::from_pkcs8_der(&[]).unwrap_err().code(),
        "YW-1101"
    );
    let der = key.to_pkcs8_der().unwrap();
    assert_eq!(
        SigningKey::from_pkcs8_der(&der[..der.len() - 3])
            .unwrap_err()
            .code(),
        "YW-1101"
    );
    let spki = key.verifying_key().unwrap().to_spki_der();
    assert_eq!(
        VerifyingKey::from_spki_der(&spki[..20]).unwrap_err().code(),
        "YW-1101"
    );
    // A point not on the curve.
    let mut point = key.verifying_key().unwrap().to_sec1_uncompressed();
    point[40] ^= 1;
    assert_eq!(
        VerifyingKey::from_sec1(Suite::Gm, &point)
            .unwrap_err()
            .code(),
        "YW-1101"
    );
    // An SM2 point given as P-256 is (almost surely) not on P-256.
    assert!(
        VerifyingKey::from_sec1(
            Suite::Intl,
            &key.verifying_key().unwrap().to_sec1_uncompressed()
        )
        .is_err()
    );
    // An Ed25519 public key (RFC 8410 example) is well formed but unsupported.
    let ed25519 = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n-----END PUBLIC KEY-----\n";
    assert_eq!(
        VerifyingKey::from_spki_pem(ed25519).unwrap_err().code(),
        "YW-1102"
    );
}

#[test]
fn aead_rejects_wrong_key_aad_and_damage() {
    for suite in Suite::ALL {
        let key = suite.generate_aead_key().unwrap();
        let other = suite.generate_aead_key().unwrap();
        let aad = b"wallet/licences/42/claims";
        let sealed = key.seal(aad, b"\xe5\xbc\xa0\xe4\xb8\x89").unwrap();
        assert_eq!(sealed.len(), 12 + 6 + 16);
        assert_eq!(key.open(aad, &sealed).unwrap(), "张三".as_bytes());
        // Two seals of the same plaintext differ (fresh nonce).
        assert_ne!(key.seal(aad, b"x").unwrap(), key.seal(aad, b"x").unwrap());

        assert_eq!(other.open(aad, &sealed), Err(CryptoError::Decrypt));
        assert_eq!(
            key.open(b"wallet/licences/43/claims", &sealed),
            Err(CryptoError::Decrypt)
        );
        for cut in [0, 1, 12, 27, sealed.len() - 1] {
            assert_eq!(
                key.open(aad, &sealed[..cut]),
                Err(CryptoError::Decrypt),
                "cut at {cut}"
            );
        }
        for i in 0..sealed.len() {
            let mut damaged = sealed.clone();
            damaged[i] ^= 0x80;
            assert_eq!(
                key.open(aad, &damaged),
                Err(CryptoError::Decrypt),
                "byte {i}"
            );
        }
        // Keys of the wrong length.
        let wrong = vec![0u8; suite.aead_key_len() + 1];
        assert_eq!(suite.aead_key(&wrong).unwrap_err().code(), "YW-1107");
        // Empty plaintext is fine.
        assert_eq!(key.open(b"", &key.seal(b"", b"").unwrap()).unwrap(), b"");
    }
}

/// Wycheproof-style malformed and out-of-range signatures: each must be
/// rejected by both suites (never accepted, never a panic).
#[test]
fn malformed_and_out_of_range_signatures_are_rejected() {
    // Group orders of P-256 and SM2.
    let n_p256 = h("FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551");
    let n_sm2 = h("FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123");
    for (suite, n) in [(Suite::Gm, n_sm2), (Suite::Intl, n_p256)] {
        let key = SigningKey::generate(suite).unwrap();
        let public = key.verifying_key().unwrap();
        let msg = b"wycheproof";
        let good = key.sign(msg).unwrap();
        public.verify(msg, &good).unwrap();

        let one = [1u8];
        let zero = [0u8];
        let mut cases: Vec<(&str, Vec<u8>)> = vec![
            ("r = 0", der_signature(&zero, &one)),
            ("s = 0", der_signature(&one, &zero)),
            ("r = n", der_signature(&n, &one)),
            ("s = n", der_signature(&one, &n)),
            ("r = s = 1", der_signature(&one, &one)),
            ("trailing byte", [good.clone(), vec![0]].concat()),
            ("empty sequence", vec![0x30, 0x00]),
            (
                "SET instead of SEQUENCE",
                [vec![0x31], good[1..].to_vec()].concat(),
            ),
            (
                "wrong outer length",
                [vec![0x30, good[1] + 1], good[2..].to_vec()].concat(),
            ),
        ];
        // Long-form (BER) length for the outer SEQUENCE.
        cases.push((
            "long-form length",
            [vec![0x30, 0x81, good[1]], good[2..].to_vec()].concat(),
        ));
        // A negative r (high bit set without the leading zero).
        let mut negative = good.clone();
        if negative[3] == 33 {
            negative.remove(4);
            negative[3] = 32;
            negative[1] -= 1;
            cases.push(("negative r", negative));
        }
        for (name, sig) in cases {
            assert!(
                public.verify(msg, &sig).is_err(),
                "{suite}: accepted signature with {name}"
            );
        }
    }
}
