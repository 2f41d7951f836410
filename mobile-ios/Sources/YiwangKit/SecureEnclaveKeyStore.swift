// A PlatformKeyStore backed by the Secure Enclave: P-256 signing keys that
// never leave the enclave, and ECIES wrapping of the wallet's data key.
// Secure Enclave keys are the international suite (P-256); the GM suite is
// available only from the software key store.
import Foundation
import Security
import Yiwang

public final class SecureEnclaveKeyStore: PlatformKeyStore {
    private let tagPrefix: String

    public init(tagPrefix: String = "cn.gov.yiwang.key.") {
        self.tagPrefix = tagPrefix
    }

    private func tag(_ alias: String) -> Data {
        Data((tagPrefix + alias).utf8)
    }

    private func privateKey(_ alias: String) throws -> SecKey {
        let query: [String: Any] = [
            kSecClass as String: kSecClassKey,
            kSecAttrApplicationTag as String: tag(alias),
            kSecAttrKeyType as String: kSecAttrKeyTypeECSECPrimeRandom,
            kSecReturnRef as String: true,
        ]
        var item: CFTypeRef?
        guard SecItemCopyMatching(query as CFDictionary, &item) == errSecSuccess, let key = item else {
            throw YiwangError.KeyStore(code: "YW-1201", detail: "no key with that alias")
        }
        return key as! SecKey
    }

    private func createKey(_ alias: String) throws -> SecKey {
        if (try? privateKey(alias)) != nil {
            throw YiwangError.KeyStore(code: "YW-1202", detail: "a key with that alias already exists")
        }
        var error: Unmanaged<CFError>?
        guard let access = SecAccessControlCreateWithFlags(
            nil, kSecAttrAccessibleWhenUnlockedThisDeviceOnly, [.privateKeyUsage], &error)
        else {
            throw YiwangError.KeyStore(code: "YW-1205", detail: "access control could not be created")
        }
        let attributes: [String: Any] = [
            kSecAttrKeyType as String: kSecAttrKeyTypeECSECPrimeRandom,
            kSecAttrKeySizeInBits as String: 256,
            kSecAttrTokenID as String: kSecAttrTokenIDSecureEnclave,
            kSecPrivateKeyAttrs as String: [
                kSecAttrIsPermanent as String: true,
                kSecAttrApplicationTag as String: tag(alias),
                kSecAttrAccessControl as String: access,
            ],
        ]
        guard let key = SecKeyCreateRandomKey(attributes as CFDictionary, &error) else {
            throw YiwangError.KeyStore(code: "YW-1205", detail: "the Secure Enclave refused to create a key")
        }
        return key
    }

    /// SubjectPublicKeyInfo DER of a P-256 public key (SecKey exports the raw point).
    private func spki(_ key: SecKey) throws -> Data {
        guard let publicKey = SecKeyCopyPublicKey(key),
              let point = SecKeyCopyExternalRepresentation(publicKey, nil) as Data?
        else {
            throw YiwangError.KeyStore(code: "YW-1205", detail: "no public key")
        }
        let header: [UInt8] = [
            0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01,
            0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
        ]
        return Data(header) + point
    }

    public func generate(alias: String, suite: CryptoSuite) throws -> Data {
        guard suite == .intl else {
            throw YiwangError.KeyStore(code: "YW-1205", detail: "the Secure Enclave only holds P-256 keys")
        }
        return try spki(createKey(alias))
    }

    public func publicKey(alias: String) throws -> Data {
        try spki(privateKey(alias))
    }

    public func sign(alias: String, message: Data) throws -> Data {
        var error: Unmanaged<CFError>?
        guard let signature = SecKeyCreateSignature(
            try privateKey(alias), .ecdsaSignatureMessageX962SHA256, message as CFData, &error) as Data?
        else {
            throw YiwangError.KeyStore(code: "YW-1205", detail: "signing was refused or cancelled")
        }
        return signature
    }

    public func delete(alias: String) throws -> Bool {
        let query: [String: Any] = [kSecClass as String: kSecClassKey, kSecAttrApplicationTag as String: tag(alias)]
        return SecItemDelete(query as CFDictionary) == errSecSuccess
    }

    public func generateWrappingKey(alias: String, suite: CryptoSuite) throws {
        _ = try createKey(alias)
    }

    public func wrap(alias: String, aad: Data, secret: Data) throws -> Data {
        guard let publicKey = SecKeyCopyPublicKey(try privateKey(alias)) else {
            throw YiwangError.KeyStore(code: "YW-1205", detail: "no public key")
        }
        var error: Unmanaged<CFError>?
        // ECIES binds no associated data: prefix the AAD's length and bytes, check them on unwrap.
        let framed = withUnsafeBytes(of: UInt32(aad.count).bigEndian) { Data($0) } + aad + secret
        guard let wrapped = SecKeyCreateEncryptedData(
            publicKey, .eciesEncryptionCofactorVariableIVX963SHA256AESGCM, framed as CFData, &error) as Data?
        else {
            throw YiwangError.KeyStore(code: "YW-1205", detail: "wrapping failed")
        }
        return wrapped
    }

    public func unwrap(alias: String, aad: Data, wrapped: Data) throws -> Data {
        var error: Unmanaged<CFError>?
        guard let framed = SecKeyCreateDecryptedData(
            try privateKey(alias), .eciesEncryptionCofactorVariableIVX963SHA256AESGCM, wrapped as CFData, &error) as Data?,
            framed.count >= 4
        else {
            throw YiwangError.Crypto(code: "YW-1106", detail: "the data key does not unwrap")
        }
        let length = Int(framed.prefix(4).reduce(0) { ($0 << 8) | UInt32($1) })
        guard framed.count >= 4 + length, framed.subdata(in: 4..<(4 + length)) == aad else {
            throw YiwangError.Crypto(code: "YW-1106", detail: "the data key does not unwrap")
        }
        return framed.subdata(in: (4 + length)..<framed.count)
    }

    public func isHardwareBacked() -> Bool {
        true
    }
}
