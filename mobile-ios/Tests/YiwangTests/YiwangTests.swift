// Mirrors mobile-android/src/test/kotlin (run on a Mac: swift test, after
// ./build-xcframework.sh). Uses the software key store so it runs in the
// simulator and on macOS; SecureEnclaveKeyStore needs a device.
import Foundation
import XCTest
@testable import Yiwang
import YiwangKit

final class YiwangTests: XCTestCase {
    let now: Int64 = 1_795_320_000  // 2026-11-22 12:00 in Beijing

    func testIdentityNumbers() throws {
        let info = try parseIdNumber(text: "11010519491231002X")
        XCTAssertEqual(info.masked, "1101**********002X")
        XCTAssertEqual(info.birthDate, "1949-12-31")
        XCTAssertEqual(info.sex, "female")
        XCTAssertEqual(info.province, "北京市")
        XCTAssertThrowsError(try parseIdNumber(text: "110105194912310021")) { error in
            guard case let YiwangError.InvalidInput(code, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(code, "YW-1008")
        }
        XCTAssertEqual(checkIdentity(text: "91350100M000100Y43").kind, "uscc")
        XCTAssertEqual(checkIdentity(text: "hello").errorCode, "YW-1000")
        XCTAssertEqual(maskName(name: "张三"), "张*")
    }

    private func issueAndPresent() throws -> (Issuer, Credential, PlatformKeyStore, Presentation) {
        let issuerStore = softwareKeyStore()
        _ = try issuerStore.generate(alias: "issuer", suite: .gm)
        let issuer = try Issuer(keyStore: issuerStore, keyAlias: "issuer", secret: Data(repeating: 1, count: 32))
        let device = softwareKeyStore()
        let devicePublicKey = try device.generate(alias: "device", suite: .gm)
        let credential = try issuer.issue(
            name: "张三", idNumber: "11010519491231002X", photoDigest: Data(repeating: 7, count: 32),
            devicePublicKey: devicePublicKey, statusIndex: 0, now: now - 60)
        let request = PresentationRequest(
            disclose: ["name_masked", "id_number_masked", "age_over_18"], audience: "window:1",
            nonce: nil, mode: .pin, validitySecs: 60)
        let presentation = try credential.present(request: request, keyStore: device, keyAlias: "device", now: now)
        return (issuer, credential, device, presentation)
    }

    private func policy(_ issuer: Issuer, audience: String = "window:1", at: Int64? = nil,
                        statusLists: [Data] = []) -> VerifierPolicy {
        VerifierPolicy(trustedIssuers: [issuer.publicKeyPem()], audience: audience, nonce: nil,
                       now: at ?? now, maxSkewSecs: 30, statusLists: statusLists, requireStatus: false)
    }

    func testIssuePresentVerify() throws {
        let (issuer, _, _, presentation) = try issueAndPresent()
        XCTAssertLessThanOrEqual(presentation.qr.version, 15)
        XCTAssertEqual(Int(presentation.qr.width * presentation.qr.width), presentation.qr.modules.count)
        let verified = try verifyPresentation(text: presentation.text, policy: policy(issuer))
        XCTAssertEqual(verified.claims["name_masked"], "张*")
        XCTAssertTrue(verified.derived.contains("age_over_18"))
        XCTAssertEqual(verified.mode, .pin)
    }

    func testRejections() throws {
        let (issuer, _, _, presentation) = try issueAndPresent()
        func code(_ p: VerifierPolicy, _ text: String? = nil) -> String? {
            do {
                _ = try verifyPresentation(text: text ?? presentation.text, policy: p)
                return nil
            } catch let YiwangError.Rejected(code, _) {
                return code
            } catch {
                return "\(error)"
            }
        }
        XCTAssertEqual(code(policy(issuer, audience: "window:2")), "YW-1411")
        XCTAssertEqual(code(policy(issuer, at: now + 600)), "YW-1409")
        let revoked = try issuer.signStatusList(revoked: [0], now: now, maxAgeSecs: 3600)
        XCTAssertEqual(code(policy(issuer, statusLists: [revoked])), "YW-1413")
        XCTAssertEqual(code(policy(issuer), "hello"), "YW-1401")
    }

    func testQrAndScan() async throws {
        let (_, _, _, presentation) = try issueAndPresent()
        let png = try renderQrPng(text: presentation.text, modulePx: 4)
        XCTAssertEqual(Array(png.prefix(4)), [0x89, 0x50, 0x4E, 0x47])
        let decoded = try await decodeQrPng(png: png)
        XCTAssertEqual(decoded, [presentation.text])
        guard case .loginRequest = classifyScan(text: "yiwang://login?server=https://gov.example&session=abcdefghijklmnop")
        else { return XCTFail("login request") }
        guard case .unknown = classifyScan(text: "hello") else { return XCTFail("unknown") }
    }

    func testWalletAndDrafts() async throws {
        let (_, credential, device, _) = try issueAndPresent()
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("wallet-\(UUID()).db").path
        let wallet = try await Wallet.open(path: path, keyStore: device, keyAlias: "wallet-key", suite: .gm)
        try await wallet.storeCredential(credential: credential, now: now)
        let stored = try await wallet.credentials()
        XCTAssertEqual(stored.first?.networkId(), credential.networkId())
        let prefill = try await wallet.prefillValues()
        XCTAssertTrue(prefill.contains("credential.name"))
        let backup = try await wallet.exportBackup(passphrase: "pass")
        XCTAssertFalse(backup.isEmpty)
        await wallet.shutdown()
        do {
            _ = try await Wallet.open(path: path, keyStore: softwareKeyStore(), keyAlias: "wallet-key", suite: .gm)
            XCTFail("opened with another key store")
        } catch let YiwangError.Storage(code, _) {
            XCTAssertEqual(code, "YW-1701")
        }
    }
}
