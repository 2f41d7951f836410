package yiwang.bench

// Micro-benchmark of calls through the Kotlin bindings (JNA). Not asserted:
// compare with the Rust-only numbers in docs/performance.md.

import yiwang.AssuranceMode
import yiwang.CryptoSuite
import yiwang.Issuer
import yiwang.PresentationRequest
import yiwang.VerifierPolicy
import yiwang.libraryVersion
import yiwang.softwareKeyStore
import yiwang.verifyPresentation

private const val NOW = 1795320000L

/** Runs [block] [n] times after [warmup] runs; returns the mean and median in µs per call. */
private inline fun measure(n: Int, warmup: Int, batch: Int = 1, block: () -> Unit): Pair<Double, Double> {
    repeat(warmup) { block() }
    val samples = DoubleArray(n / batch)
    for (i in samples.indices) {
        val t0 = System.nanoTime()
        repeat(batch) { block() }
        samples[i] = (System.nanoTime() - t0) / 1_000.0 / batch
    }
    samples.sort()
    return samples.average() to samples[samples.size / 2]
}

private fun report(name: String, result: Pair<Double, Double>) {
    println("bench: $name %.2f us/call (mean %.2f)".format(result.second, result.first))
}

fun main() {
    var sink = 0
    report("library_version", measure(100_000, 10_000, batch = 100) { sink += libraryVersion().length })

    val store = softwareKeyStore()
    store.generate("issuer", CryptoSuite.GM)
    val issuer = Issuer(store, "issuer", ByteArray(32) { 1 })
    val device = store.generate("device", CryptoSuite.GM)
    val credential = issuer.issue("张三", "11010519491231002X", ByteArray(32) { 7 }, device, 0u, NOW - 60)
    val request = PresentationRequest(
        disclose = listOf("name_masked", "id_number_masked", "age_over_18"),
        audience = "window:1",
        nonce = null,
        mode = AssuranceMode.PIN,
        validitySecs = 60u,
    )
    report("present_gm", measure(1_000, 50) { sink += credential.present(request, store, "device", NOW).text.length })

    val text = credential.present(request, store, "device", NOW).text
    val policy = VerifierPolicy(
        trustedIssuers = listOf(issuer.publicKeyPem()),
        audience = "window:1",
        nonce = null,
        now = NOW,
        maxSkewSecs = 30,
        statusLists = listOf(),
        requireStatus = false,
    )
    report("verify_gm", measure(1_000, 50) { sink += verifyPresentation(text, policy).derived.size })

    credential.close()
    issuer.close()
    (store as? AutoCloseable)?.close()
    if (sink == 42) println() // keep the results alive
}
