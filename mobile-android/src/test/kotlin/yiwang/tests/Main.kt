package yiwang.tests

import kotlin.system.exitProcess
import yiwang.libraryVersion

fun main() {
    println("yiwang-ffi ${libraryVersion()} (repo ${repoRoot()})")
    identityTests()
    formsTests()
    val fx = try {
        Fixture()
    } catch (e: Throwable) {
        test("fixture: issuer, device key, credential") { throw e }
        null
    }
    if (fx != null) {
        fx.use {
            credentialTests(it)
            qrTests(it)
            walletTests(it)
            concurrencyTests(it)
            documentTests(it)
        }
        test("objects: closed objects refuse calls") {
            assertThrows<IllegalStateException>("call after close") { fx.credential.networkId() }
        }
    }
    clientTests()
    pushTests()
    catalogTests()
    recommendationTests()
    applicationTests()
    licenceTests()
    println("kotlin: ${Results.passed} passed, ${Results.failed} failed")
    exitProcess(if (Results.failed == 0) 0 else 1)
}
