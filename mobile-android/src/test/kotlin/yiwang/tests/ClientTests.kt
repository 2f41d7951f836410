package yiwang.tests

import java.net.ServerSocket
import java.net.URI
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse
import java.time.Duration
import java.util.Base64
import kotlinx.coroutines.runBlocking
import yiwang.ApiClient
import yiwang.ClientConfig
import yiwang.Credential
import yiwang.CryptoSuite
import yiwang.Enrolment
import yiwang.EnrolmentRequest
import yiwang.LoginSessionStatus
import yiwang.PlatformKeyStore
import yiwang.ScannedCode
import yiwang.Tokens
import yiwang.YiwangException
import yiwang.classifyScan

// The API client against a real `yiwang serve` that jvm-test.sh starts on a
// loopback port (`-Dyiwang.server.url`, admin token `-Dyiwang.server.admin-token`).
// The steps share one citizen: enrol → challenge → present → login → me →
// refresh → devices → sign out, then scan-to-login with a website.

const val CITIZEN_ID_NUMBER = "110105199003071239"

fun clientTests() {
    test("client: a config with plain http to a non-loopback host is InvalidInput YW-1801") {
        val e = assertThrows<YiwangException.InvalidInput>("ApiClient") {
            ApiClient(ClientConfig(baseUrl = "http://yiwang.example.gov.cn"))
        }
        assertEquals("YW-1801", e.code, "code")
    }

    test("client: nothing listening on the port is Network YW-1802 (offline)") {
        val port = ServerSocket(0).use { it.localPort }
        val client = ApiClient(
            ClientConfig(baseUrl = "http://127.0.0.1:$port", maxAttempts = 2u, backoffBaseMs = 1uL, backoffMaxMs = 10uL),
        )
        client.use {
            val e = assertThrows<YiwangException.Network>("issuer") { runBlocking { it.issuer() } }
            assertEquals("YW-1802", e.code, "code")
            assertEquals(null, e.httpStatus, "httpStatus")
        }
    }

    test("client: a login request for another server is refused with YW-1805, before any request") {
        ApiClient(ClientConfig(baseUrl = "http://127.0.0.1:9")).use { client ->
            val e = assertThrows<YiwangException.Rejected>("loginSession") {
                runBlocking { client.loginSession("https://evil.example", "session-0123456789abcdef") }
            }
            assertEquals("YW-1805", e.code, "code")
        }
    }

    val url = System.getProperty("yiwang.server.url")
    val adminToken = System.getProperty("yiwang.server.admin-token")
    if (url == null || adminToken == null) {
        test("client: a yiwang server to talk to (-Dyiwang.server.url, started by jvm-test.sh)") {
            fail("no server URL given")
        }
        return
    }
    ClientScenario(url, adminToken).use { it.run() }
}

private class ClientScenario(val url: String, val adminToken: String) : AutoCloseable {
    val client = ApiClient(ClientConfig(baseUrl = url))
    val keyStore = KotlinKeyStore()
    val http: HttpClient = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build()
    var credential: Credential? = null
    var networkId: String? = null
    var tokens: Tokens? = null

    fun now(): Long = System.currentTimeMillis() / 1000

    fun credential(): Credential = credential ?: fail("needs the enrolment step")
    fun tokens(): Tokens = tokens ?: fail("needs the login step")

    fun login(deviceName: String?): Tokens = loginCitizen(client, credential(), keyStore, "device", deviceName)

    fun run() {
        test("client: issuer and its signed status list") {
            val issuer = runBlocking { client.issuer() }
            assertTrue(issuer.suite in listOf("gm", "intl"), "suite ${issuer.suite}")
            assertEquals("/v1/status-lists/${issuer.kid}", issuer.statusList, "statusList")
            val list = runBlocking { client.statusList(issuer.kid) }
            assertTrue(list.isNotEmpty(), "status list bytes")
            val e = assertThrows<YiwangException.Rejected>("unknown kid") {
                runBlocking { client.statusList("no-such-kid") }
            }
            assertEquals("YW-4040", e.code, "code")
        }

        test("client: enrol a device key from the Kotlin key store; the answer holds the 网证") {
            val enrolment = enrolCitizen(client, keyStore, "device", "李四", CITIZEN_ID_NUMBER)
            assertEquals(1u, enrolment.generation, "generation")
            assertEquals(enrolment.networkId, enrolment.credential.networkId(), "credential networkId")
            assertEquals("李四", enrolment.credential.claim("name"), "claim(name)")
            credential = enrolment.credential
            networkId = enrolment.networkId
        }

        test("client: challenge → present → login → me") {
            val challenge = runBlocking { client.challenge() }
            assertEquals("yiwang-server", challenge.audience, "audience")
            assertEquals(listOf("network_id"), challenge.presentationRequest.disclose, "disclose")
            assertEquals(challenge.nonce, String(challenge.presentationRequest.nonce!!), "nonce bytes")
            val login = login("JVM test phone")
            assertTrue(login.accessToken.isNotEmpty() && login.refreshToken.isNotEmpty(), "tokens")
            assertTrue(login.deviceId.isNotEmpty(), "deviceId")
            assertEquals(900L, login.expiresIn, "expiresIn")
            // Printing the record (an app's log line) shows no token.
            val printed = login.toString()
            assertTrue(printed.contains("Tokens") && !printed.contains(login.accessToken) &&
                !printed.contains(login.refreshToken), "toString masks the tokens: $printed")
            val me = runBlocking { client.me(login.accessToken) }
            assertEquals(networkId, me.networkId, "me.networkId")
            assertTrue(!me.toString().contains(me.networkId), "toString masks the 网号")
            assertEquals(login.deviceId, me.deviceId, "me.deviceId")
            tokens = login
        }

        test("client: refresh rotates the pair; the spent refresh token is Rejected YW-4013") {
            val first = tokens()
            val second = runBlocking { client.refresh(first.refreshToken) }
            assertTrue(second.refreshToken != first.refreshToken, "a new refresh token")
            assertEquals(networkId, runBlocking { client.me(second.accessToken) }.networkId, "new access token works")
            val e = assertThrows<YiwangException.Rejected>("refresh with the spent token") {
                runBlocking { client.refresh(first.refreshToken) }
            }
            assertEquals("YW-4013", e.code, "code")
            // Reuse revoked the whole family: the second refresh token is dead too.
            val again = assertThrows<YiwangException.Rejected>("refresh with the family's newer token") {
                runBlocking { client.refresh(second.refreshToken) }
            }
            assertEquals("YW-4013", again.code, "code")
        }

        test("client: a garbage presentation is Rejected with a YW-14xx code") {
            val challenge = runBlocking { client.challenge() }
            val e = assertThrows<YiwangException.Rejected>("login") {
                runBlocking { client.login("YW1:NOT A PRESENTATION", challenge.nonce, null) }
            }
            assertTrue(e.code.startsWith("YW-14"), "code ${e.code} is YW-14xx")
        }

        test("client: a missing access token is Rejected YW-4010") {
            val e = assertThrows<YiwangException.Rejected>("me") { runBlocking { client.me("not-a-token") } }
            assertEquals("YW-4010", e.code, "code")
        }

        test("client: devices lists each login; signing one out refuses its token (YW-4010)") {
            val phoneA = login("phone A")
            val phoneB = login("phone B")
            tokens = phoneA
            val devices = runBlocking { client.devices(phoneA.accessToken) }
            val a = devices.find { it.deviceId == phoneA.deviceId } ?: fail("phone A listed in $devices")
            val b = devices.find { it.deviceId == phoneB.deviceId } ?: fail("phone B listed in $devices")
            assertEquals("phone A", a.name, "name of A")
            assertTrue(a.current && !b.current, "current is the asking device")
            runBlocking { client.signOutDevice(phoneA.accessToken, phoneB.deviceId) }
            val e = assertThrows<YiwangException.Rejected>("me with B's token") {
                runBlocking { client.me(phoneB.accessToken) }
            }
            assertEquals("YW-4010", e.code, "code")
            val after = runBlocking { client.devices(phoneA.accessToken) }
            assertTrue(after.none { it.deviceId == phoneB.deviceId }, "B gone from $after")
            val unknown = assertThrows<YiwangException.Rejected>("sign out an unknown device") {
                runBlocking { client.signOutDevice(phoneA.accessToken, "no-such-device") }
            }
            assertEquals("YW-4041", unknown.code, "code")
        }

        test("client: scan-to-login: the website opens a session, the app approves, the website gets an ID token") {
            val website = registerWebsite()
            val opened = openSession(website, """{"claims":["name_masked","age_over_18"],"nonce":"rp-nonce-1"}""")
            val scanned = classifyScan(opened.getValue("qr_text")) as? ScannedCode.LoginRequest
                ?: fail("qr_text ${opened["qr_text"]} is not a login request")
            val session = runBlocking { client.loginSession(scanned.server, scanned.session) }
            assertEquals(opened["session_id"], session.sessionId, "sessionId")
            assertEquals("市民网站", session.relyingPartyName, "relyingPartyName")
            assertEquals(website.first, session.clientId, "clientId")
            assertEquals(LoginSessionStatus.PENDING, session.status, "status")
            assertEquals(listOf("name_masked", "age_over_18"), session.presentationRequest.disclose, "disclose")

            val presentation = credential().present(session.presentationRequest, keyStore, "device", now())
            val approved = runBlocking { client.approveLogin(tokens().accessToken, session.sessionId, presentation.text) }
            assertEquals(LoginSessionStatus.APPROVED, approved, "approveLogin")

            val (status, result) = websiteGet(website, "/v1/login-sessions/${session.sessionId}/result?wait=5")
            assertEquals(200, status, "result status ($result)")
            val idToken = jsonString(result, "id_token") ?: fail("no id_token in the result")
            val payload = String(Base64.getUrlDecoder().decode(idToken.split(".")[1]))
            assertEquals(website.first, jsonString(payload, "aud"), "aud of $payload")
            assertEquals("rp-nonce-1", jsonString(payload, "nonce"), "nonce")
            assertEquals("李*", jsonString(payload, "name_masked"), "name_masked")
            assertTrue(!payload.contains(networkId ?: "-"), "the 网号 is not in the ID token")

            val again = assertThrows<YiwangException.Rejected>("approve twice") {
                runBlocking { client.approveLogin(tokens().accessToken, session.sessionId, presentation.text) }
            }
            assertEquals("YW-4092", again.code, "code")
        }

        test("client: scan-to-login: the citizen refuses") {
            val website = registerWebsite()
            val opened = openSession(website, """{"claims":["name_masked"]}""")
            val scanned = classifyScan(opened.getValue("qr_text")) as? ScannedCode.LoginRequest
                ?: fail("not a login request")
            val session = runBlocking { client.loginSession(scanned.server, scanned.session) }
            val refused = runBlocking { client.refuseLogin(tokens().accessToken, session.sessionId) }
            assertEquals(LoginSessionStatus.REFUSED, refused, "refuseLogin")
            assertEquals(
                LoginSessionStatus.REFUSED,
                runBlocking { client.loginSession(scanned.server, scanned.session) }.status,
                "status after refusing",
            )
        }

        test("client: signing out the current device refuses its own token") {
            val current = tokens()
            runBlocking { client.signOutDevice(current.accessToken, current.deviceId) }
            val e = assertThrows<YiwangException.Rejected>("me") { runBlocking { client.me(current.accessToken) } }
            assertEquals("YW-4010", e.code, "code")
        }
    }

    // --- the website's side, over plain HTTP ---------------------------------

    private var websites = 0

    /** Registers a relying party with the admin route: (client_id, client_secret). */
    fun registerWebsite(): Pair<String, String> {
        websites++
        val body = """{"name":"市民网站","claims":["name_masked","age_over_18"],"client_id":"citizen-site-$websites"}"""
        val request = HttpRequest.newBuilder(URI.create("$url/v1/admin/relying-parties"))
            .header("Authorization", "Bearer $adminToken")
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(body))
            .build()
        val response = http.send(request, HttpResponse.BodyHandlers.ofString())
        assertEquals(201, response.statusCode(), "register relying party (${response.body()})")
        val clientId = jsonString(response.body(), "client_id") ?: fail("no client_id")
        val secret = jsonString(response.body(), "client_secret") ?: fail("no client_secret")
        return clientId to secret
    }

    fun basic(website: Pair<String, String>): String =
        "Basic " + Base64.getEncoder().encodeToString("${website.first}:${website.second}".toByteArray())

    /** Opens a login session as the website: session_id and qr_text. */
    fun openSession(website: Pair<String, String>, body: String): Map<String, String> {
        val request = HttpRequest.newBuilder(URI.create("$url/v1/login-sessions"))
            .header("Authorization", basic(website))
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(body))
            .build()
        val response = http.send(request, HttpResponse.BodyHandlers.ofString())
        assertEquals(201, response.statusCode(), "open login session (${response.body()})")
        return listOf("session_id", "qr_text").associateWith {
            jsonString(response.body(), it) ?: fail("no $it in ${response.body()}")
        }
    }

    fun websiteGet(website: Pair<String, String>, path: String): Pair<Int, String> {
        val request = HttpRequest.newBuilder(URI.create("$url$path"))
            .header("Authorization", basic(website))
            .timeout(Duration.ofSeconds(30))
            .GET()
            .build()
        val response = http.send(request, HttpResponse.BodyHandlers.ofString())
        return response.statusCode() to response.body()
    }

    override fun close() {
        credential?.close()
        client.close()
    }
}

/** Enrols a citizen with a new device key [alias] (SM2) from [keyStore], as the app does. */
fun enrolCitizen(client: ApiClient, keyStore: PlatformKeyStore, alias: String, name: String, idNumber: String): Enrolment {
    val request = EnrolmentRequest(
        name = name,
        idNumber = idNumber,
        photoDigest = ByteArray(32) { 3 },
        devicePublicKey = keyStore.generate(alias, CryptoSuite.GM),
    )
    return runBlocking { client.enrol(request) }
}

/** Challenge → present the 网证 with the device key [alias] → login, as the app does. */
fun loginCitizen(
    client: ApiClient,
    credential: Credential,
    keyStore: PlatformKeyStore,
    alias: String,
    deviceName: String?,
): Tokens = runBlocking {
    val challenge = client.challenge()
    val now = System.currentTimeMillis() / 1000
    val presentation = credential.present(challenge.presentationRequest, keyStore, alias, now)
    client.login(presentation.text, challenge.nonce, deviceName)
}

/** The string value of `"key": "…"` in a flat JSON text (enough for these answers; no escapes). */
fun jsonString(json: String, key: String): String? =
    Regex("\"" + Regex.escape(key) + "\"\\s*:\\s*\"([^\"]*)\"").find(json)?.groupValues?.get(1)
