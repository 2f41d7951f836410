package yiwang.tests

// A tiny test harness (no JUnit): `test(name) { ... }` runs a block, catches
// anything it throws and prints one TAP-like line per test.

import java.io.File

class AssertionFailed(message: String) : Exception(message)

object Results {
    var passed = 0
    var failed = 0
    val failures = mutableListOf<String>()
}

fun test(name: String, block: () -> Unit) {
    try {
        block()
        Results.passed++
        println("ok - $name")
    } catch (e: Throwable) {
        Results.failed++
        Results.failures += name
        val reason = if (e is AssertionFailed) e.message else "${e.javaClass.name}: ${e.message}"
        println("FAILED - $name: $reason")
        if (e !is AssertionFailed && System.getenv("YIWANG_TEST_TRACE") == "1") e.printStackTrace(System.out)
    }
}

fun fail(message: String): Nothing = throw AssertionFailed(message)

fun <T> assertEquals(expected: T, actual: T, what: String = "value") {
    if (expected != actual) fail("$what: expected <$expected>, got <$actual>")
}

fun assertTrue(condition: Boolean, what: String = "condition") {
    if (!condition) fail("$what: expected true")
}

/** Runs [block], expecting it to throw a [T]; returns the exception. */
inline fun <reified T : Throwable> assertThrows(what: String = "call", block: () -> Unit): T {
    try {
        block()
    } catch (e: Throwable) {
        if (e is T) return e
        fail("$what: expected ${T::class.java.simpleName}, got ${e.javaClass.name}: ${e.message}")
    }
    fail("$what: expected ${T::class.java.simpleName}, nothing was thrown")
}

/** The repository root: `-Dyiwang.repo=...`, else `YIWANG_REPO`, else the working directory. */
fun repoRoot(): File =
    File(System.getProperty("yiwang.repo") ?: System.getenv("YIWANG_REPO") ?: ".").absoluteFile

/** 2026-11-22 12:00 Beijing time (04:00 UTC). */
const val NOW: Long = 1795320000L
