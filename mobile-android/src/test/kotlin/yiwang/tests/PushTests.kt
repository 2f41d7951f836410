package yiwang.tests

import java.net.URI
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse
import java.time.Duration
import java.util.UUID
import kotlinx.coroutines.runBlocking
import yiwang.ApiClient
import yiwang.ClientConfig
import yiwang.Credential
import yiwang.InboxQuery
import yiwang.PushProvider
import yiwang.PushRegistrationRequest
import yiwang.QuietHours
import yiwang.Tokens
import yiwang.YiwangException

// Push registration and the inbox against the real `yiwang serve` that
// jvm-test.sh starts (`-Dyiwang.server.url`, `-Dyiwang.server.admin-token`):
// two citizens of their own (not ClientTests' one), an FCM token, a
// notification sent with the admin token, its opened receipt, the token
// moving to the second citizen's phone.

const val PUSH_CITIZEN_A_ID_NUMBER = "310104198506124327"
const val PUSH_CITIZEN_B_ID_NUMBER = "310104199203185629"
const val APP_ID = "cn.gov.yiwang"

fun pushTests() {
    val url = System.getProperty("yiwang.server.url")
    val adminToken = System.getProperty("yiwang.server.admin-token")
    if (url == null || adminToken == null) {
        test("push: a yiwang server to talk to (-Dyiwang.server.url, started by jvm-test.sh)") {
            fail("no server URL given")
        }
        return
    }
    PushScenario(url, adminToken).use { it.run() }
}

private class PushScenario(val url: String, val adminToken: String) : AutoCloseable {
    val client = ApiClient(ClientConfig(baseUrl = url))
    val keyStore = KotlinKeyStore()
    val http: HttpClient = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build()
    val credentials = mutableListOf<Credential>()
    var networkIdA: String? = null
    var tokensA: Tokens? = null
    var tokensB: Tokens? = null
    var firstMessageId: String? = null

    /** An FCM registration token's shape (printable ASCII), unique to this run. */
    val fcmToken = "fJvmTest:APA91b" + UUID.randomUUID().toString().replace("-", "")

    fun a(): Tokens = tokensA ?: fail("needs the enrol-and-login step")
    fun b(): Tokens = tokensB ?: fail("needs the enrol-and-login step")

    fun fcmRequest() = PushRegistrationRequest(
        provider = PushProvider.FCM,
        token = fcmToken,
        appId = APP_ID,
        locale = "en",
        optedOut = listOf("campaign"),
    )

    fun run() {
        test("push: two citizens enrol and log in") {
            val a = enrolCitizen(client, keyStore, "push-a", "王五", PUSH_CITIZEN_A_ID_NUMBER)
            credentials += a.credential
            val b = enrolCitizen(client, keyStore, "push-b", "赵六", PUSH_CITIZEN_B_ID_NUMBER)
            credentials += b.credential
            networkIdA = a.networkId
            tokensA = loginCitizen(client, a.credential, keyStore, "push-a", "phone A")
            tokensB = loginCitizen(client, b.credential, keyStore, "push-b", "phone B")
        }

        test("push: no registration yet is null") {
            assertEquals(null, runBlocking { client.pushRegistration(a().accessToken) }, "pushRegistration")
        }

        test("push: register an FCM token (en, campaign opted out); read back with a 4-character hint, not the token") {
            val registered = runBlocking { client.registerPush(a().accessToken, fcmRequest()) }
            assertEquals(a().deviceId, registered.deviceId, "deviceId")
            assertEquals(PushProvider.FCM, registered.provider, "provider")
            assertEquals(fcmToken.take(4), registered.tokenHint, "tokenHint")
            assertEquals(null, registered.apnsEnvironment, "apnsEnvironment")
            assertEquals(APP_ID, registered.appId, "appId")
            assertEquals("en", registered.locale, "locale")
            assertEquals("Asia/Shanghai", registered.timeZone, "timeZone (default)")
            assertEquals(QuietHours("22:00", "07:00"), registered.quietHours, "quietHours (default)")
            assertEquals(listOf("campaign"), registered.optedOut, "optedOut")
            assertTrue(registered.registeredMs > 0 && registered.updatedMs >= registered.registeredMs, "times")
            assertTrue(!registered.toString().contains(fcmToken), "no token in $registered")
            val read = runBlocking { client.pushRegistration(a().accessToken) }
            assertEquals(registered, read, "pushRegistration")
        }

        test("push: a malformed token is Rejected YW-4602; APNs without its environment YW-4603") {
            val bad = fcmRequest().copy(token = "short")
            val e = assertThrows<YiwangException.Rejected>("registerPush") {
                runBlocking { client.registerPush(a().accessToken, bad) }
            }
            assertEquals("YW-4602", e.code, "code")
            val apns = PushRegistrationRequest(provider = PushProvider.APNS, token = "ab".repeat(32), appId = APP_ID)
            val noEnvironment = assertThrows<YiwangException.Rejected>("registerPush APNs") {
                runBlocking { client.registerPush(a().accessToken, apns) }
            }
            assertEquals("YW-4603", noEnvironment.code, "code")
            // The refused calls left the registration as it was.
            assertEquals(fcmToken.take(4), runBlocking { client.pushRegistration(a().accessToken) }?.tokenHint, "hint")
        }

        test("push: a printed PushRegistrationRequest shows no token") {
            val printed = fcmRequest().toString()
            assertTrue(printed.contains("PushRegistrationRequest"), "names the record: $printed")
            assertTrue(!printed.contains(fcmToken), "no token in $printed")
            assertTrue(printed.contains("\"${fcmToken.take(4)}…\""), "the first 4 characters in $printed")
        }

        test("push: an invalid access token is Rejected YW-4010") {
            val e = assertThrows<YiwangException.Rejected>("pushRegistration") {
                runBlocking { client.pushRegistration("not-a-token") }
            }
            assertEquals("YW-4010", e.code, "code")
        }

        test("push: the admin sends a notification; the inbox shows it in English, unread 1") {
            val id = sendLicenceIssued("结婚证")
            val page = runBlocking { client.inbox(a().accessToken, InboxQuery(locale = "en")) }
            assertEquals(1u, page.unread, "unread")
            assertEquals(null, page.nextBefore, "nextBefore")
            val message = page.messages.singleOrNull() ?: fail("one message in ${page.messages}")
            assertEquals(id, message.id, "id")
            assertEquals("service", message.category, "category")
            assertEquals("Licence issued", message.title, "title")
            assertTrue(message.body.contains("结婚证"), "body ${message.body}")
            assertEquals(null, message.readMs, "readMs")
            assertEquals(null, message.openedMs, "openedMs")
            assertTrue(!message.toString().contains("结婚证"), "toString leaves out the text: $message")
            // Without a locale: the device's push locale (en); zh-CN when asked.
            assertEquals("Licence issued", runBlocking { client.inbox(a().accessToken, InboxQuery()) }.messages[0].title, "default locale")
            val chinese = runBlocking { client.inbox(a().accessToken, InboxQuery(locale = "zh-CN")) }
            assertEquals("电子证照已发放", chinese.messages[0].title, "zh-CN title")
            // Another citizen's inbox does not have it.
            assertEquals(0, runBlocking { client.inbox(b().accessToken, InboxQuery()) }.messages.size, "B's inbox")
            firstMessageId = id
        }

        test("push: opening the message (its push's message_id) records the receipt: unread 0, openedMs set") {
            val id = firstMessageId ?: fail("needs the send step")
            runBlocking { client.markOpened(a().accessToken, id) }
            val page = runBlocking { client.inbox(a().accessToken, InboxQuery(locale = "en")) }
            assertEquals(0u, page.unread, "unread")
            val message = page.messages.single()
            assertTrue(message.openedMs != null, "openedMs set")
            assertTrue(message.readMs != null, "readMs set too")
            val unknown = assertThrows<YiwangException.Rejected>("markOpened unknown id") {
                runBlocking { client.markOpened(a().accessToken, "no-such-message") }
            }
            assertEquals("YW-4045", unknown.code, "code")
            val notHers = assertThrows<YiwangException.Rejected>("markRead of A's message by B") {
                runBlocking { client.markRead(b().accessToken, id) }
            }
            assertEquals("YW-4045", notHers.code, "code")
        }

        test("push: the inbox pages with nextBefore, newest first; markRead marks without opening") {
            val first = firstMessageId ?: fail("needs the send step")
            val second = sendLicenceIssued("驾驶证")
            val page1 = runBlocking { client.inbox(a().accessToken, InboxQuery(limit = 1u)) }
            assertEquals(listOf(second), page1.messages.map { it.id }, "page 1")
            assertEquals(1u, page1.unread, "unread")
            val before = page1.nextBefore ?: fail("no nextBefore on page 1")
            val page2 = runBlocking { client.inbox(a().accessToken, InboxQuery(before = before, limit = 1u)) }
            assertEquals(listOf(first), page2.messages.map { it.id }, "page 2")
            assertEquals(null, page2.nextBefore, "nextBefore on the last page")
            runBlocking { client.markRead(a().accessToken, second) }
            val after = runBlocking { client.inbox(a().accessToken, InboxQuery()) }
            assertEquals(0u, after.unread, "unread")
            val read = after.messages.first { it.id == second }
            assertTrue(read.readMs != null && read.openedMs == null, "read, not opened: $read")
            val e = assertThrows<YiwangException.Rejected>("a limit over 100") {
                runBlocking { client.inbox(a().accessToken, InboxQuery(limit = 101u)) }
            }
            assertEquals("YW-4006", e.code, "code")
        }

        test("push: the token registered from a second citizen's login leaves the first") {
            val moved = runBlocking { client.registerPush(b().accessToken, fcmRequest()) }
            assertEquals(b().deviceId, moved.deviceId, "deviceId")
            assertEquals(null, runBlocking { client.pushRegistration(a().accessToken) }, "A's registration")
            assertEquals(moved, runBlocking { client.pushRegistration(b().accessToken) }, "B's registration")
        }

        test("push: unregister → null (twice is fine)") {
            runBlocking { client.unregisterPush(b().accessToken) }
            assertEquals(null, runBlocking { client.pushRegistration(b().accessToken) }, "after unregister")
            runBlocking { client.unregisterPush(b().accessToken) }
        }
    }

    /** Sends `licence.issued` to citizen A with the admin token; the notification id. */
    fun sendLicenceIssued(licence: String): String {
        val networkId = networkIdA ?: fail("needs the enrolment step")
        val body = """{"recipient":{"account":"$networkId"},"template":"licence.issued",""" +
            """"params":{"licence":"$licence"},"category":"service"}"""
        val request = HttpRequest.newBuilder(URI.create("$url/v1/notifications"))
            .header("Authorization", "Bearer $adminToken")
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(body))
            .build()
        val response = http.send(request, HttpResponse.BodyHandlers.ofString())
        assertEquals(202, response.statusCode(), "send notification (${response.body()})")
        return jsonString(response.body(), "id") ?: fail("no id in ${response.body()}")
    }

    override fun close() {
        credentials.forEach { it.close() }
        client.close()
    }
}
