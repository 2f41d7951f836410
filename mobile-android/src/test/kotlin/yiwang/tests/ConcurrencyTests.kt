package yiwang.tests

import java.util.concurrent.Callable
import java.util.concurrent.CountDownLatch
import java.util.concurrent.Executors
import java.util.concurrent.TimeUnit
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.async
import kotlinx.coroutines.awaitAll
import kotlinx.coroutines.runBlocking
import yiwang.verifyPresentation

fun concurrencyTests(fx: Fixture) {
    test("concurrency: verify one presentation from 8 threads at once") {
        val text = fx.presentText()
        val policy = fx.policy()
        val pool = Executors.newFixedThreadPool(8)
        try {
            val start = CountDownLatch(1)
            val futures = (1..8).map {
                pool.submit(Callable {
                    start.await()
                    (1..5).map { verifyPresentation(text, policy).pairwiseId }
                })
            }
            start.countDown()
            val ids = futures.flatMap { it.get(120, TimeUnit.SECONDS) }
            assertEquals(40, ids.size, "verifications")
            assertEquals(1, ids.toSet().size, "same pairwise id everywhere")
        } finally {
            pool.shutdown()
        }
    }

    test("concurrency: present from 4 coroutines on Dispatchers.Default") {
        val signsBefore = fx.keyStore.signs.get()
        val texts = runBlocking {
            (1..4).map { i ->
                async(Dispatchers.Default) {
                    fx.credential.present(fx.request(), fx.keyStore, "device", NOW + i).text
                }
            }.awaitAll()
        }
        assertEquals(4, texts.toSet().size, "4 distinct presentations")
        assertTrue(fx.keyStore.signs.get() - signsBefore >= 4, "4 signatures through Kotlin")
        texts.forEachIndexed { i, text ->
            val verified = verifyPresentation(text, fx.policy(now = NOW + i + 1))
            assertEquals("张*", verified.claims["name_masked"], "name_masked")
        }
    }
}
