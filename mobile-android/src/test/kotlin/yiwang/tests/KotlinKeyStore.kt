package yiwang.tests

import java.util.concurrent.atomic.AtomicInteger
import yiwang.CryptoSuite
import yiwang.PlatformKeyStore
import yiwang.softwareKeyStore

/**
 * A platform key store written in Kotlin (as the app's Android Keystore one
 * is): it delegates to the library's software store and counts every call,
 * so a test can prove that Rust called back into Kotlin. Errors from the
 * delegate (`YiwangException.KeyStore` with `YW-1201` for an unknown alias,
 * …) pass through unchanged, as the trait's contract asks.
 */
class KotlinKeyStore(private val delegate: PlatformKeyStore = softwareKeyStore()) : PlatformKeyStore {
    val generates = AtomicInteger()
    val publicKeys = AtomicInteger()
    val signs = AtomicInteger()
    val deletes = AtomicInteger()
    val wrappingKeys = AtomicInteger()
    val wraps = AtomicInteger()
    val unwraps = AtomicInteger()

    override fun generate(alias: String, suite: CryptoSuite): ByteArray {
        generates.incrementAndGet()
        return delegate.generate(alias, suite)
    }

    override fun publicKey(alias: String): ByteArray {
        publicKeys.incrementAndGet()
        return delegate.publicKey(alias)
    }

    override fun sign(alias: String, message: ByteArray): ByteArray {
        signs.incrementAndGet()
        return delegate.sign(alias, message)
    }

    override fun delete(alias: String): Boolean {
        deletes.incrementAndGet()
        return delegate.delete(alias)
    }

    override fun generateWrappingKey(alias: String, suite: CryptoSuite) {
        wrappingKeys.incrementAndGet()
        delegate.generateWrappingKey(alias, suite)
    }

    override fun wrap(alias: String, aad: ByteArray, secret: ByteArray): ByteArray {
        wraps.incrementAndGet()
        return delegate.wrap(alias, aad, secret)
    }

    override fun unwrap(alias: String, aad: ByteArray, wrapped: ByteArray): ByteArray {
        unwraps.incrementAndGet()
        return delegate.unwrap(alias, aad, wrapped)
    }

    override fun isHardwareBacked(): Boolean = false
}
