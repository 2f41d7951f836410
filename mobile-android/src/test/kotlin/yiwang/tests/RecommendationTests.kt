package yiwang.tests

import java.net.URI
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse
import java.time.Duration
import java.time.LocalDate
import java.util.UUID
import kotlinx.coroutines.runBlocking
import yiwang.ApiClient
import yiwang.ClientConfig
import yiwang.Credential
import yiwang.Recommendation
import yiwang.RecommendationSettings
import yiwang.Tokens
import yiwang.YiwangException

// Proactive recommendations against the real `yiwang serve` that jvm-test.sh
// starts (`-Dyiwang.server.url`, `-Dyiwang.server.admin-token`), which seeds
// the demo catalog and rules and runs the matcher. A citizen of its own (not
// ClientTests' or PushTests'); the admin posts `birth_registered` events for
// her to POST /v1/events, as a health commission would.

const val RECOMMENDATION_CITIZEN_ID_NUMBER = "110108198807154325"
const val CHILDCARE_SUBSIDY_CODE = "11100000000014064D3110000000004"
const val MATERNITY_ALLOWANCE_CODE = "11100000MB1713453K3110000000003"

fun recommendationTests() {
    val url = System.getProperty("yiwang.server.url")
    val adminToken = System.getProperty("yiwang.server.admin-token")
    if (url == null || adminToken == null) {
        test("recommendations: a yiwang server to talk to (-Dyiwang.server.url, started by jvm-test.sh)") {
            fail("no server URL given")
        }
        return
    }
    RecommendationScenario(url, adminToken).use { it.run() }
}

private class RecommendationScenario(val url: String, val adminToken: String) : AutoCloseable {
    val client = ApiClient(ClientConfig(baseUrl = url))
    val keyStore = KotlinKeyStore()
    val http: HttpClient = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build()
    var credential: Credential? = null
    var networkId: String? = null
    var tokens: Tokens? = null

    fun token(): String = tokens?.accessToken ?: fail("needs the enrol-and-login step")

    fun feed(): List<Recommendation> = runBlocking { client.recommendations(token()) }

    fun run() {
        test("recommendations: a citizen enrols and logs in; her feed is empty") {
            val enrolment = enrolCitizen(client, keyStore, "recommend", "孙七", RECOMMENDATION_CITIZEN_ID_NUMBER)
            credential = enrolment.credential
            tokens = loginCitizen(client, enrolment.credential, keyStore, "recommend", "phone R")
            networkId = runBlocking { client.me(token()) }.networkId
            assertEquals(enrolment.networkId, networkId, "me().networkId")
            assertEquals(emptyList<Recommendation>(), feed(), "feed")
        }

        test("recommendations: the settings default to no consent, nothing opted out, consentChangedMs null") {
            val settings = runBlocking { client.recommendationSettings(token()) }
            assertEquals(RecommendationSettings(profileConsent = false), settings, "settings")
        }

        test("recommendations: a birth_registered event offers 新生儿出生一件事 (90) then grants 育儿补贴 (80), without consent") {
            postBirth()
            val offers = awaitFeed("the two birth recommendations") { it.size >= 2 }
            assertEquals(listOf(NEWBORN_CODE, CHILDCARE_SUBSIDY_CODE), offers.map { it.matterCode }, "matters, by priority")
            val newborn = offers[0]
            assertEquals("offer", newborn.action, "newborn action")
            assertEquals(90u, newborn.priority, "newborn priority")
            assertEquals("新生儿出生一件事", newborn.matterName.zh, "newborn name.zh")
            assertEquals("online", newborn.delivery, "newborn delivery")
            assertEquals("您的孩子出生登记已完成，可办理出生一件事", newborn.reason.zh, "newborn reason.zh")
            assertTrue(newborn.reason.en.isNotEmpty(), "newborn reason.en")
            assertTrue(newborn.createdMs > 0, "createdMs")
            val subsidy = offers[1]
            assertEquals("grant", subsidy.action, "subsidy action")
            assertEquals(80u, subsidy.priority, "subsidy priority")
            assertEquals("育儿补贴发放", subsidy.matterName.zh, "subsidy name.zh")
            assertEquals("automatic", subsidy.delivery, "subsidy delivery")
            assertTrue(newborn.id != subsidy.id, "distinct ids")
            // No profile consent: the maternity allowance (not required by law) is not offered.
            assertTrue(offers.none { it.matterCode == MATERNITY_ALLOWANCE_CODE }, "no maternity allowance: $offers")
            // A limit cuts the feed from the top.
            assertEquals(listOf(newborn), runBlocking { client.recommendations(token(), 1u) }, "limit 1")
        }

        test("recommendations: consent and an opt-out (a repeat dropped) are stored and read back") {
            val wanted = RecommendationSettings(profileConsent = true, optedOut = listOf("old_age", "driving", "old_age"))
            val stored = runBlocking { client.setRecommendationSettings(token(), wanted) }
            assertEquals(true, stored.profileConsent, "profileConsent")
            assertEquals(listOf("old_age", "driving"), stored.optedOut, "optedOut")
            val changed = stored.consentChangedMs ?: fail("consentChangedMs set when consent is given")
            assertTrue(changed > 0, "consentChangedMs")
            assertEquals(stored, runBlocking { client.recommendationSettings(token()) }, "read back")
            // Storing the same consent again keeps the time it was given.
            val again = runBlocking { client.setRecommendationSettings(token(), stored.copy(consentChangedMs = null)) }
            assertEquals(stored, again, "unchanged consent")
        }

        test("recommendations: an unknown life event in optedOut is Rejected YW-4722; nothing is stored") {
            val before = runBlocking { client.recommendationSettings(token()) }
            val e = assertThrows<YiwangException.Rejected>("setRecommendationSettings") {
                runBlocking {
                    client.setRecommendationSettings(token(), RecommendationSettings(profileConsent = false, optedOut = listOf("retirement")))
                }
            }
            assertEquals("YW-4722", e.code, "code")
            assertEquals(before, runBlocking { client.recommendationSettings(token()) }, "settings unchanged")
        }

        test("recommendations: with consent, a second birth adds the maternity allowance (offer, 60), not the first two again") {
            postBirth()
            val offers = awaitFeed("the maternity allowance") { feed -> feed.any { it.matterCode == MATERNITY_ALLOWANCE_CODE } }
            assertEquals(
                listOf(NEWBORN_CODE, CHILDCARE_SUBSIDY_CODE, MATERNITY_ALLOWANCE_CODE),
                offers.map { it.matterCode },
                "matters, by priority (the first two within their cooldown)",
            )
            val maternity = offers[2]
            assertEquals("offer", maternity.action, "action")
            assertEquals(60u, maternity.priority, "priority")
            assertEquals("生育津贴申领", maternity.matterName.zh, "name.zh")
        }

        test("recommendations: snoozing one and dismissing another takes both out of the feed; dismissing twice is fine") {
            val before = feed()
            val subsidy = before.firstOrNull { it.matterCode == CHILDCARE_SUBSIDY_CODE } ?: fail("no subsidy in $before")
            val maternity = before.firstOrNull { it.matterCode == MATERNITY_ALLOWANCE_CODE } ?: fail("no maternity allowance in $before")
            runBlocking { client.snoozeRecommendation(token(), subsidy.id, 7u) }
            runBlocking { client.dismissRecommendation(token(), maternity.id) }
            runBlocking { client.dismissRecommendation(token(), maternity.id) }
            val after = feed()
            assertEquals(listOf(NEWBORN_CODE), after.map { it.matterCode }, "feed after")
            assertEquals(before[0], after[0], "the newborn offer as it was")
        }

        test("recommendations: a missing id is Rejected YW-4049; snooze days 0 or 91 InvalidInput YW-1807; limit 0 Rejected YW-4721") {
            val missing = Long.MAX_VALUE
            val dismiss = assertThrows<YiwangException.Rejected>("dismissRecommendation") {
                runBlocking { client.dismissRecommendation(token(), missing) }
            }
            assertEquals("YW-4049", dismiss.code, "dismiss code")
            val snooze = assertThrows<YiwangException.Rejected>("snoozeRecommendation") {
                runBlocking { client.snoozeRecommendation(token(), missing, 3u) }
            }
            assertEquals("YW-4049", snooze.code, "snooze code")
            val newborn = feed().firstOrNull() ?: fail("the newborn offer is in the feed")
            for (days in listOf(0u, 91u)) {
                val e = assertThrows<YiwangException.InvalidInput>("snooze $days days") {
                    runBlocking { client.snoozeRecommendation(token(), newborn.id, days) }
                }
                assertEquals("YW-1807", e.code, "code for $days days")
            }
            assertEquals(listOf(newborn), feed(), "nothing snoozed")
            val limit = assertThrows<YiwangException.Rejected>("recommendations limit 0") {
                runBlocking { client.recommendations(token(), 0u) }
            }
            assertEquals("YW-4721", limit.code, "limit code")
        }

        test("recommendations: withdrawing consent is stored with a new time; an invalid token is Rejected YW-4010") {
            val given = runBlocking { client.recommendationSettings(token()) }
            val givenAt = given.consentChangedMs ?: fail("consent was given: $given")
            val withdrawn = runBlocking { client.setRecommendationSettings(token(), given.copy(profileConsent = false)) }
            assertEquals(false, withdrawn.profileConsent, "profileConsent")
            assertEquals(given.optedOut, withdrawn.optedOut, "optedOut kept")
            val withdrawnAt = withdrawn.consentChangedMs ?: fail("consentChangedMs after withdrawal")
            assertTrue(withdrawnAt >= givenAt, "withdrawn at $withdrawnAt, given at $givenAt")
            assertEquals(withdrawn, runBlocking { client.recommendationSettings(token()) }, "read back")
            val e = assertThrows<YiwangException.Rejected>("recommendations with a bad token") {
                runBlocking { client.recommendations("not-a-token") }
            }
            assertEquals("YW-4010", e.code, "code")
        }
    }

    /** Posts a `birth_registered` event for the citizen (by 网号) with the admin bearer. */
    fun postBirth() {
        val subject = networkId ?: fail("needs the enrolment step")
        val eventId = "jvm-birth-" + UUID.randomUUID()
        val now = System.currentTimeMillis() / 1000
        val born = LocalDate.now().minusDays(3)
        val body = """{"events":[{"event_id":"$eventId","type":"birth_registered",""" +
            """"subject":{"network_id":"$subject"},"occurred_at":$now,""" +
            """"data":{"child_birth_date":"$born","child_sex":"female"}}]}"""
        val request = HttpRequest.newBuilder(URI.create("$url/v1/events"))
            .header("Authorization", "Bearer $adminToken")
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(body))
            .build()
        val response = http.send(request, HttpResponse.BodyHandlers.ofString())
        assertEquals(200, response.statusCode(), "post event (${response.body()})")
        assertEquals("accepted", jsonString(response.body(), "status"), "event status (${response.body()})")
    }

    /** Polls the feed (every 100 ms, up to 10 s: the matcher runs in the server) until [done]. */
    fun awaitFeed(what: String, done: (List<Recommendation>) -> Boolean): List<Recommendation> {
        val deadline = System.nanoTime() + 10_000_000_000L
        var last = feed()
        while (!done(last)) {
            if (System.nanoTime() > deadline) fail("$what did not appear within 10 s; feed: $last")
            Thread.sleep(100)
            last = feed()
        }
        return last
    }

    override fun close() {
        credential?.close()
        client.close()
    }
}
