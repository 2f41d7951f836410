package yiwang.tests

import yiwang.AssuranceMode
import yiwang.Credential
import yiwang.CryptoSuite
import yiwang.Issuer
import yiwang.PlatformKeyStore
import yiwang.PresentationRequest
import yiwang.VerifierPolicy
import yiwang.softwareKeyStore

const val ID_NUMBER = "11010519491231002X"
const val AUDIENCE = "window:1"

/**
 * What most tests share: an issuer with its own software key store, a device
 * key generated in the Kotlin key store, and a 网证 issued at `NOW - 60`.
 */
class Fixture : AutoCloseable {
    val issuerStore: PlatformKeyStore = softwareKeyStore()
    val issuer: Issuer
    val keyStore = KotlinKeyStore()
    val devicePublicKey: ByteArray
    val credential: Credential

    init {
        issuerStore.generate("issuer", CryptoSuite.GM)
        issuer = Issuer(issuerStore, "issuer", ByteArray(32) { 1 })
        devicePublicKey = keyStore.generate("device", CryptoSuite.GM)
        credential = issuer.issue("张三", ID_NUMBER, ByteArray(32) { 7 }, devicePublicKey, 0u, NOW - 60)
    }

    fun request(audience: String = AUDIENCE) = PresentationRequest(
        disclose = listOf("name_masked", "id_number_masked", "age_over_18"),
        audience = audience,
        nonce = null,
        mode = AssuranceMode.PIN,
        validitySecs = 60u,
    )

    fun policy(
        now: Long = NOW,
        audience: String = AUDIENCE,
        statusLists: List<ByteArray> = listOf(),
    ) = VerifierPolicy(
        trustedIssuers = listOf(issuer.publicKeyPem()),
        audience = audience,
        nonce = null,
        now = now,
        maxSkewSecs = 30,
        statusLists = statusLists,
        requireStatus = false,
    )

    /** A fresh presentation text, signed through the Kotlin key store. */
    fun presentText(audience: String = AUDIENCE, now: Long = NOW): String =
        credential.present(request(audience), keyStore, "device", now).text

    override fun close() {
        credential.close()
        issuer.close()
        (issuerStore as? AutoCloseable)?.close()
    }
}
