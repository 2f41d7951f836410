package yiwang.tests

import java.io.File
import java.nio.file.Files
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.async
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withContext
import yiwang.CryptoSuite
import yiwang.Draft
import yiwang.FormSchema
import yiwang.Wallet
import yiwang.YiwangException

fun walletTests(fx: Fixture) {
    test("wallet: open, store, prefill, drafts, backup, import, wrong key") {
        val dir = Files.createTempDirectory("yiwang-wallet").toFile()
        try {
            runBlocking { walletScenario(fx, dir) }
        } finally {
            dir.deleteRecursively()
        }
    }
}

private suspend fun walletScenario(fx: Fixture, dir: File) = coroutineScope {
    val path = File(dir, "wallet.db").path
    val store = KotlinKeyStore()
    val schema = FormSchema.fromJson(seniorCardJson())
    // Open from another dispatcher: the suspend calls run on the library's runtime.
    val wallet = withContext(Dispatchers.IO) { Wallet.open(path, store, "wallet-key", CryptoSuite.GM) }
    assertTrue(store.wrappingKeys.get() == 1, "generateWrappingKey called back (${store.wrappingKeys.get()})")
    assertTrue(store.wraps.get() >= 1, "wrap called back (${store.wraps.get()})")

    wallet.storeCredential(fx.credential, NOW)
    val stored = wallet.credentials()
    assertEquals(1, stored.size, "credentials().size")
    assertEquals(fx.credential.networkId(), stored[0].networkId(), "networkId")
    stored.forEach { it.close() }

    val prefill = wallet.prefillValues()
    assertTrue(prefill.contains("\"credential.name\""), "prefill JSON has credential.name: $prefill")

    val draft = Draft(schema, NOW)
    val filled = draft.prefill(schema, prefill)
    assertTrue("name" in filled, "prefill filled name ($filled)")
    assertEquals("\"张三\"", draft.value("name"), "name value")
    assertTrue(draft.isGovernment("name"), "name is government data")
    assertThrows<YiwangException.InvalidInput>("set a government field") { draft.set(schema, "name", "\"李四\"") }
    draft.set(schema, "phone", "\"13800138000\"")
    draft.save(NOW)
    wallet.saveDraft(draft, NOW)
    val second = Draft(schema, NOW + 1)
    second.set(schema, "phone", "\"13900139000\"")
    wallet.saveDraft(second, NOW + 1)

    // Two concurrent reads from coroutines.
    val drafts = async { wallet.draftsForMatter(schema.matterCode()) }
    val again = async { wallet.draft(draft.id()) }
    val list = drafts.await()
    assertEquals(2, list.size, "draftsForMatter size")
    val loaded = again.await() ?: fail("draft(id) not found")
    assertEquals(draft.value("phone"), loaded.value("phone"), "stored draft phone")
    assertTrue(loaded.isGovernment("name"), "government flag survives storage")
    list.forEach { it.close() }
    loaded.close()

    val backup = wallet.exportBackup("pass")
    val store2 = KotlinKeyStore()
    val wallet2 = Wallet.open(File(dir, "wallet2.db").path, store2, "wallet-key", CryptoSuite.GM)
    // 1 credential + 2 drafts.
    assertEquals(3u, wallet2.importBackup(backup, "pass"), "importBackup records")
    val imported = wallet2.credentials()
    assertEquals(1, imported.size, "imported credentials")
    imported.forEach { it.close() }
    val e = assertThrowsSuspend<YiwangException.Storage>("import with a wrong passphrase") {
        wallet2.importBackup(backup, "wrong")
    }
    assertEquals("YW-1707", e.code, "code")

    // Close both (the AutoCloseable close, called from a coroutine; resolves
    // to the wallet's own suspend close if the bindings ever expose one as `close`).
    wallet.shutdown(); wallet.close()
    wallet2.shutdown(); wallet2.close()

    // Reopen with the same store: the data key is unwrapped through Kotlin.
    val unwrapsBefore = store.unwraps.get()
    val reopened = Wallet.open(path, store, "wallet-key", CryptoSuite.GM)
    assertTrue(store.unwraps.get() > unwrapsBefore, "unwrap called back on reopen")
    assertEquals(1, reopened.credentials().also { l -> l.forEach { it.close() } }.size, "credentials after reopen")
    reopened.shutdown(); reopened.close()

    // A fresh key store does not hold the wrapping key: YW-1701.
    val wrong = assertThrowsSuspend<YiwangException.Storage>("open with a fresh key store") {
        Wallet.open(path, KotlinKeyStore(), "wallet-key", CryptoSuite.GM).close()
    }
    assertEquals("YW-1701", wrong.code, "code")

    draft.close()
    second.close()
    schema.close()
}

suspend inline fun <reified T : Throwable> assertThrowsSuspend(what: String, block: suspend () -> Unit): T {
    try {
        block()
    } catch (e: Throwable) {
        if (e is T) return e
        fail("$what: expected ${T::class.java.simpleName}, got ${e.javaClass.name}: ${e.message}")
    }
    fail("$what: expected ${T::class.java.simpleName}, nothing was thrown")
}
