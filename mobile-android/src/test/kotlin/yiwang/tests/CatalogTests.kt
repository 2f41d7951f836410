package yiwang.tests

import kotlinx.coroutines.runBlocking
import yiwang.ApiClient
import yiwang.ClientConfig
import yiwang.FormSchema
import yiwang.MatterQuery
import yiwang.MatterSummary
import yiwang.YiwangException
import yiwang.use

// The service catalog as an app browses it, against the real `yiwang serve`
// that jvm-test.sh starts (`-Dyiwang.server.url`), which seeds the demo
// catalog (24 matters) at start. Public routes: no citizen, no token.

const val SENIOR_CARD_CODE = "11100000MB0143028R3210000000001"
const val NEWBORN_CODE = "11100000000013338W3110000000001"

fun catalogTests() {
    val url = System.getProperty("yiwang.server.url")
    if (url == null) {
        test("catalog: a yiwang server to talk to (-Dyiwang.server.url, started by jvm-test.sh)") {
            fail("no server URL given")
        }
        return
    }
    ApiClient(ClientConfig(baseUrl = url)).use { client -> catalogScenario(client) }
}

private fun catalogScenario(client: ApiClient) {
    test("catalog: paging with limit 5 and the cursor lists every matter once, in code order (≥ 20)") {
        val seen = mutableListOf<MatterSummary>()
        var cursor: String? = null
        var pages = 0
        do {
            val page = runBlocking { client.matters(MatterQuery(limit = 5u, cursor = cursor)) }
            assertTrue(page.matters.size <= 5, "page ${pages + 1} has at most 5: ${page.matters.size}")
            seen += page.matters
            cursor = page.nextCursor
            pages++
            assertTrue(pages <= 100, "the cursor ends")
        } while (cursor != null)
        val codes = seen.map { it.code }
        assertTrue(codes.size >= 20, "at least 20 matters, got ${codes.size}")
        assertEquals(codes.distinct(), codes, "each matter once")
        assertEquals(codes.sorted(), codes, "code order")
        assertTrue(SENIOR_CARD_CODE in codes && NEWBORN_CODE in codes, "the demo matters are listed")
        // Without a limit: the first 20.
        assertEquals(codes.take(20), runBlocking { client.matters(MatterQuery()) }.matters.map { it.code }, "default page")
    }

    test("catalog: searching q = 出生 finds 新生儿出生一件事, and only matters named so") {
        val page = runBlocking { client.matters(MatterQuery(q = "出生")) }
        val newborn = page.matters.firstOrNull { it.code == NEWBORN_CODE } ?: fail("not found in ${page.matters}")
        assertEquals("新生儿出生一件事", newborn.name.zh, "name.zh")
        assertEquals("birth", newborn.lifeEvent, "lifeEvent")
        assertEquals("online", newborn.delivery, "delivery")
        for (m in page.matters) {
            assertTrue("出生" in m.name.zh || "出生" in m.department.name.zh, "${m.name.zh} matches 出生")
        }
        // Each word must appear, zh or en, any case.
        val english = runBlocking { client.matters(MatterQuery(q = "NEWBORN services")) }
        assertEquals(listOf(NEWBORN_CODE), english.matters.map { it.code }, "english words")
        assertEquals(0, runBlocking { client.matters(MatterQuery(q = "出生 驾驶")) }.matters.size, "every word")
    }

    test("catalog: filtering by life event old_age lists old-age matters only, the senior card among them") {
        val page = runBlocking { client.matters(MatterQuery(lifeEvent = "old_age")) }
        assertTrue(page.matters.isNotEmpty(), "some old-age matters")
        assertTrue(page.matters.all { it.lifeEvent == "old_age" }, "all old_age: ${page.matters.map { it.lifeEvent }}")
        val card = page.matters.firstOrNull { it.code == SENIOR_CARD_CODE } ?: fail("no senior card in ${page.matters}")
        assertEquals("老年人优待证申领", card.name.zh, "name.zh")
        // By department too.
        val byDepartment = runBlocking { client.matters(MatterQuery(department = card.department.code, lifeEvent = "old_age")) }
        assertTrue(byDepartment.matters.all { it.department.code == card.department.code }, "one department")
        assertTrue(card in byDepartment.matters, "the card is the department's")
    }

    test("catalog: the senior-card matter's formJson loads with FormSchema.fromJson for its code and version") {
        val matter = runBlocking { client.matter(SENIOR_CARD_CODE) }
        assertEquals(SENIOR_CARD_CODE, matter.code, "code")
        assertEquals(false, matter.retired, "retired")
        assertEquals("老年人优待证申领", matter.name.zh, "name.zh")
        assertEquals("online", matter.delivery, "delivery")
        assertEquals("old_age", matter.lifeEvent, "lifeEvent")
        assertTrue(matter.summary != null, "a summary")
        val formJson = matter.formJson ?: fail("an online matter has a form")
        FormSchema.fromJson(formJson).use { schema ->
            assertEquals(SENIOR_CARD_CODE, schema.matterCode(), "matterCode")
            assertEquals(matter.version, schema.version(), "the form's version is the matter's")
            assertTrue(schema.fieldIds().isNotEmpty(), "fields")
        }
        // The version a draft was made with stays readable.
        assertEquals(matter, runBlocking { client.matter(SENIOR_CARD_CODE, matter.version) }, "matter at its version")
    }

    test("catalog: a window matter has no form") {
        val window = runBlocking { client.matters(MatterQuery(lifeEvent = "birth")) }.matters
            .firstOrNull { it.delivery == "window" } ?: fail("no window matter for birth")
        val matter = runBlocking { client.matter(window.code) }
        assertEquals(null, matter.formJson, "formJson")
    }

    test("catalog: a missing matter or version is Rejected YW-4048; a malformed code InvalidInput YW-1807") {
        val missing = assertThrows<YiwangException.Rejected>("matter") {
            runBlocking { client.matter("11100000MB0143028R3219999999999") }
        }
        assertEquals("YW-4048", missing.code, "code")
        val noVersion = assertThrows<YiwangException.Rejected>("matter at version 999") {
            runBlocking { client.matter(SENIOR_CARD_CODE, 999u) }
        }
        assertEquals("YW-4048", noVersion.code, "code")
        val malformed = assertThrows<YiwangException.InvalidInput>("matter with a lowercase code") {
            runBlocking { client.matter("senior-card") }
        }
        assertEquals("YW-1807", malformed.code, "code")
    }

    test("catalog: a bad query is Rejected YW-4709") {
        for (query in listOf(MatterQuery(limit = 101u), MatterQuery(lifeEvent = "retirement"))) {
            val e = assertThrows<YiwangException.Rejected>("matters($query)") {
                runBlocking { client.matters(query) }
            }
            assertEquals("YW-4709", e.code, "code")
        }
    }

    test("catalog: lifeEvents starts with birth, in display order, with zh and en names") {
        val events = runBlocking { client.lifeEvents() }
        assertEquals("birth", events.firstOrNull()?.id, "first")
        assertEquals("出生", events[0].name.zh, "birth zh")
        assertEquals("Birth", events[0].name.en, "birth en")
        assertTrue(events.any { it.id == "old_age" }, "old_age listed")
        assertEquals(events.map { it.id }.distinct(), events.map { it.id }, "each once")
    }
}
