package yiwang.tests

import java.net.URI
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse
import java.time.Duration
import java.time.LocalDate
import java.time.ZoneId
import java.util.Base64
import kotlinx.coroutines.runBlocking
import yiwang.ApiClient
import yiwang.Application
import yiwang.ApplicationStatus
import yiwang.ClientConfig
import yiwang.Credential
import yiwang.Draft
import yiwang.FormSchema
import yiwang.InboxQuery
import yiwang.Tokens
import yiwang.YiwangException

// Draft sync between two devices, submission and the application's status,
// against the real `yiwang serve` that jvm-test.sh starts
// (`-Dyiwang.server.url`, `-Dyiwang.server.admin-token`). A citizen of her
// own, signed in on "phone A" and "tablet B"; the senior-card matter (online,
// with a form) of the demo catalog; the Civil Affairs Bureau as a service
// client with `applications:<its code>`, moving the application on.

const val APPLICATION_CITIZEN_ID_NUMBER = "110101199003074573"
const val CIVIL_AFFAIRS_CODE = "11100000MB0143028R"

fun applicationTests() {
    val url = System.getProperty("yiwang.server.url")
    val adminToken = System.getProperty("yiwang.server.admin-token")
    if (url == null || adminToken == null) {
        test("applications: a yiwang server to talk to (-Dyiwang.server.url, started by jvm-test.sh)") {
            fail("no server URL given")
        }
        return
    }
    ApplicationScenario(url, adminToken).use { it.run() }
}

private class ApplicationScenario(val url: String, val adminToken: String) : AutoCloseable {
    val client = ApiClient(ClientConfig(baseUrl = url))
    val keyStore = KotlinKeyStore()
    val http: HttpClient = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build()
    val today: String = LocalDate.now(ZoneId.of("Asia/Shanghai")).toString()
    var credential: Credential? = null
    var tokensA: Tokens? = null
    var tokensB: Tokens? = null
    var schema: FormSchema? = null
    var draftA: Draft? = null
    var draftB: Draft? = null
    var department: Pair<String, String>? = null
    var receiptNo: String? = null
    val closeables = mutableListOf<AutoCloseable>()

    fun a(): String = tokensA?.accessToken ?: fail("needs the enrol-and-login step")
    fun b(): String = tokensB?.accessToken ?: fail("needs the enrol-and-login step")
    fun schema(): FormSchema = schema ?: fail("needs the form step")
    fun draftA(): Draft = draftA ?: fail("needs the create step")
    fun draftB(): Draft = draftB ?: fail("needs the fetch step")
    fun receipt(): String = receiptNo ?: fail("needs the submit step")

    fun run() {
        test("applications: a citizen enrols and signs in on two devices; the senior card's form loads") {
            val enrolment = enrolCitizen(client, keyStore, "apply", "周八", APPLICATION_CITIZEN_ID_NUMBER)
            credential = enrolment.credential
            tokensA = loginCitizen(client, enrolment.credential, keyStore, "apply", "phone A")
            tokensB = loginCitizen(client, enrolment.credential, keyStore, "apply", "tablet B")
            assertTrue(tokensA?.deviceId != tokensB?.deviceId, "two device sessions")
            val matter = runBlocking { client.matter(SENIOR_CARD_CODE) }
            assertEquals(CIVIL_AFFAIRS_CODE, matter.department.code, "department")
            schema = FormSchema.fromJson(matter.formJson ?: fail("the senior card has a form")).also { closeables += it }
            assertEquals(emptyList<Any>(), runBlocking { client.remoteDrafts(a()) }, "no drafts yet")
        }

        test("applications: device A creates a prefilled draft; its first sync stores version 1 (If-None-Match)") {
            val draft = Draft(schema(), NOW).also { closeables += it }
            val filled = draft.prefill(schema(), prefill())
            assertEquals(listOf("name", "id_number", "birth_date", "sex"), filled, "prefilled")
            draft.set(schema(), "phone", "\"13800138000\"")
            draft.save(NOW)
            assertEquals(0u, draft.syncedVersion(), "never synced")
            val sync = runBlocking { client.syncDraft(a(), draft) }
            assertEquals(1u, sync.version, "version")
            assertEquals(false, sync.merged, "merged")
            assertEquals(emptyList<Any>(), sync.conflicts, "conflicts")
            assertEquals(1u, draft.syncedVersion(), "syncedVersion")
            draftA = draft
            val listed = runBlocking { client.remoteDrafts(b()) }
            val summary = listed.singleOrNull() ?: fail("one draft listed: $listed")
            assertEquals(draft.id(), summary.id, "id")
            assertEquals(SENIOR_CARD_CODE, summary.matterCode, "matterCode")
            assertEquals(schema().version(), summary.schemaVersion, "schemaVersion")
            assertEquals(1u, summary.version, "version")
            assertTrue(summary.expiresMs > summary.updatedMs, "expires after its save: $summary")
        }

        test("applications: device B fetches the draft: same values, government fields read-only, synced at 1") {
            val draft = runBlocking { client.fetchDraft(b(), draftA().id()) }.also { closeables += it }
            assertEquals(draftA().id(), draft.id(), "id")
            assertEquals(SENIOR_CARD_CODE, draft.matterCode(), "matterCode")
            assertEquals("\"13800138000\"", draft.value("phone"), "phone")
            assertEquals("\"周八\"", draft.value("name"), "name")
            assertEquals(1u, draft.syncedVersion(), "syncedVersion")
            assertEquals(1u, draft.revisionCount(), "a first revision")
            assertTrue(draft.isGovernment("name") && draft.isGovernment("id_number"), "government fields")
            val e = assertThrows<YiwangException.InvalidInput>("set a government field") {
                draft.set(schema(), "name", "\"李四\"")
            }
            assertEquals("YW-1552", e.code, "code")
            draftB = draft
        }

        test("applications: different fields edited on A and B: A stores 2, B's stale sync is merged by the server (3)") {
            draftA().set(schema(), "emergency_contact_name", "\"周小八\"")
            val syncA = runBlocking { client.syncDraft(a(), draftA()) }
            assertEquals(2u, syncA.version, "A's version")
            assertEquals(false, syncA.merged, "A not merged")
            draftB().set(schema(), "residence_address", """{"region":"110101","detail":"东城区东华门街道1号"}""")
            val syncB = runBlocking { client.syncDraft(b(), draftB()) }
            assertEquals(3u, syncB.version, "B's version")
            assertEquals(true, syncB.merged, "B merged")
            assertEquals(emptyList<Any>(), syncB.conflicts, "no conflicts")
            assertEquals("\"周小八\"", draftB().value("emergency_contact_name"), "A's edit reached B")
            assertEquals(3u, draftB().syncedVersion(), "B's syncedVersion")
            // A's next sync (If-Match 2) takes B's edit in too. A only lagged
            // behind: the server answers its current version 3 as the merge
            // (docs/formats.md says "stored as the next version"; either is a
            // synced draft).
            val again = runBlocking { client.syncDraft(a(), draftA()) }
            assertTrue(again.version in 3u..4u, "A's version after the merge: ${again.version}")
            assertEquals(again.version, draftA().syncedVersion(), "A's syncedVersion")
            assertEquals(true, again.merged, "A merged")
            assertEquals(emptyList<Any>(), again.conflicts, "no conflicts")
            assertTrue(draftA().value("residence_address")?.contains("110101") == true, "B's edit reached A")
            assertEquals(draftB().value("residence_address"), draftA().value("residence_address"), "the same address")
        }

        test("applications: the same field edited on both: a conflict with both values; resolved, the sync is accepted; A gets it") {
            draftA().set(schema(), "emergency_contact_phone", "\"13700137000\"")
            val stored = draftA().syncedVersion() + 1u
            assertEquals(stored, runBlocking { client.syncDraft(a(), draftA()) }.version, "A's version")
            draftB().set(schema(), "emergency_contact_phone", "\"13600136000\"")
            val sync = runBlocking { client.syncDraft(b(), draftB()) }
            assertEquals(stored, sync.version, "the server's version")
            assertEquals(true, sync.merged, "merged")
            val conflict = sync.conflicts.singleOrNull() ?: fail("one conflict: ${sync.conflicts}")
            assertEquals("emergency_contact_phone", conflict.field, "field")
            assertEquals(null, conflict.base, "base")
            assertEquals("\"13600136000\"", conflict.local, "local (B's)")
            assertEquals("\"13700137000\"", conflict.remote, "remote (A's)")
            assertEquals("\"13600136000\"", draftB().value("emergency_contact_phone"), "B keeps its own until it chooses")
            assertEquals(stored, draftB().syncedVersion(), "B synced at the server's version")
            assertEquals(stored, runBlocking { client.remoteDrafts(b()) }.single().version, "nothing stored")
            // The citizen keeps B's number (the draft holds it already): the
            // sync names the server's version and is accepted.
            val resolved = runBlocking { client.syncDraft(b(), draftB()) }
            assertEquals(stored + 1u, resolved.version, "accepted as the next version")
            assertEquals(stored + 1u, draftB().syncedVersion(), "B's syncedVersion")
            assertEquals(emptyList<Any>(), resolved.conflicts, "no conflicts")
            assertEquals(false, resolved.merged, "not merged")
            val fetched = runBlocking { client.fetchDraft(a(), draftA().id()) }
            fetched.use { assertEquals("\"13600136000\"", it.value("emergency_contact_phone"), "stored") }
            // A's next sync brings B's choice to A.
            runBlocking { client.syncDraft(a(), draftA()) }
            assertEquals("\"13600136000\"", draftA().value("emergency_contact_phone"), "on A")
        }

        test("applications: a draft missing a required field is refused locally (InvalidInput YW-1601, the problems in the detail)") {
            Draft(schema(), NOW).use { draft ->
                draft.prefill(schema(), prefill())
                val problems = draft.validate(schema(), today)
                assertTrue(problems.any { it.path == "applicant.phone" && it.code == "YW-1601" }, "phone required: $problems")
                val e = assertThrows<YiwangException.InvalidInput>("submit") {
                    runBlocking { client.submit(a(), draft, schema(), today) }
                }
                assertEquals("YW-1601", e.code, "code")
                for (p in problems) assertTrue(e.detail.contains("${p.path} ${p.code}"), "${p.path} in ${e.detail}")
                assertTrue(!e.detail.contains("周八"), "no values in ${e.detail}")
            }
            assertEquals(0, runBlocking { client.applications(a()) }.applications.size, "nothing submitted")
        }

        test("applications: A completes and submits: an application with a receipt number, status submitted; the draft leaves the server") {
            complete(draftA())
            val application = runBlocking { client.submit(a(), draftA(), schema(), today) }
            assertTrue(Regex("YW\\d{16}").matches(application.receiptNo), "receipt ${application.receiptNo}")
            assertEquals(draftA().id(), application.draftId, "draftId")
            assertEquals(SENIOR_CARD_CODE, application.matterCode, "matterCode")
            assertEquals(schema().version(), application.matterVersion, "matterVersion")
            assertEquals("老年人优待证申领", application.matterName.zh, "matterName.zh")
            assertEquals(CIVIL_AFFAIRS_CODE, application.department.code, "department")
            assertEquals(ApplicationStatus.SUBMITTED, application.status, "status")
            assertEquals("\"13800138000\"", application.values["phone"], "values")
            assertEquals(listOf("photo"), application.attachments.map { it.field }, "attachments")
            assertEquals("ab".repeat(32), application.attachments[0].sha256, "sha256")
            assertEquals(listOf(ApplicationStatus.SUBMITTED), application.history.map { it.status }, "history")
            assertEquals("citizen", application.history[0].actor, "actor")
            assertTrue(!application.toString().contains("13800138000"), "toString has no values: $application")
            receiptNo = application.receiptNo
            // The draft id is the idempotency key: the same submission again is the same application.
            val again = runBlocking { client.submit(a(), draftA(), schema(), today) }
            assertEquals(application.receiptNo, again.receiptNo, "the same application")
            assertEquals(emptyList<Any>(), runBlocking { client.remoteDrafts(a()) }, "the synced draft is deleted")
        }

        test("applications: B's stale sync after the draft left the server, and fetching it, are Rejected YW-4050") {
            draftB().set(schema(), "emergency_contact_name", "\"周九\"")
            val synced = draftB().syncedVersion()
            val sync = assertThrows<YiwangException.Rejected>("syncDraft") {
                runBlocking { client.syncDraft(b(), draftB()) }
            }
            assertEquals("YW-4050", sync.code, "sync code")
            assertEquals("\"周九\"", draftB().value("emergency_contact_name"), "B's edit kept")
            assertEquals(synced, draftB().syncedVersion(), "B's syncedVersion unchanged")
            val fetch = assertThrows<YiwangException.Rejected>("fetchDraft") {
                runBlocking { client.fetchDraft(b(), draftA().id()) }
            }
            assertEquals("YW-4050", fetch.code, "fetch code")
            val unknown = assertThrows<YiwangException.Rejected>("fetchDraft of an unknown id") {
                runBlocking { client.fetchDraft(b(), "0123456789abcdef0123456789abcdef") }
            }
            assertEquals("YW-4050", unknown.code, "unknown code")
            val malformed = assertThrows<YiwangException.InvalidInput>("fetchDraft of a malformed id") {
                runBlocking { client.fetchDraft(b(), "not-a-draft-id") }
            }
            assertEquals("YW-1807", malformed.code, "malformed code")
            val deleted = assertThrows<YiwangException.Rejected>("deleteRemoteDraft") {
                runBlocking { client.deleteRemoteDraft(b(), draftA().id()) }
            }
            assertEquals("YW-4050", deleted.code, "delete code")
        }

        test("applications: the department accepts and approves; application() shows the status and the history") {
            department = registerDepartment()
            assertEquals(200, moveTo("accepted").first, "accepted")
            assertEquals(200, moveTo("approved").first, "approved")
            val application = runBlocking { client.application(b(), receipt()) }
            assertEquals(ApplicationStatus.APPROVED, application.status, "status")
            assertEquals(
                listOf(ApplicationStatus.SUBMITTED, ApplicationStatus.ACCEPTED, ApplicationStatus.APPROVED),
                application.history.map { it.status },
                "history",
            )
            assertTrue(application.history.zipWithNext().all { (x, y) -> x.atMs <= y.atMs }, "in order")
            assertTrue(application.history.drop(1).all { it.actor != "citizen" }, "by the department: ${application.history}")
            assertTrue(application.updatedMs >= application.submittedMs, "updatedMs")
            // The list: a summary, newest first.
            val page = runBlocking { client.applications(a(), 10u) }
            val summary = page.applications.singleOrNull() ?: fail("one application: ${page.applications}")
            assertEquals(receipt(), summary.receiptNo, "receiptNo")
            assertEquals(ApplicationStatus.APPROVED, summary.status, "summary status")
            assertTrue(summary.values.isEmpty() && summary.history.isEmpty(), "a summary: $summary")
            assertEquals(null, page.nextBefore, "nextBefore")
            // Each change reached the citizen's inbox.
            val inbox = runBlocking { client.inbox(a(), InboxQuery()) }
            assertTrue(inbox.messages.count { it.category == "application_status" } >= 2, "status messages in ${inbox.messages}")
        }

        test("applications: a transition the table does not allow is 409 YW-4097; another citizen's receipt is Rejected YW-4051") {
            val (status, body) = moveTo("accepted")
            assertEquals(409, status, "approved → accepted ($body)")
            assertEquals("YW-4097", jsonString(body, "code"), "code")
            val missing = assertThrows<YiwangException.Rejected>("application") {
                runBlocking { client.application(a(), "YW2000010100000000") }
            }
            assertEquals("YW-4051", missing.code, "code")
            val supplement = assertThrows<YiwangException.Rejected>("supplement when approved") {
                runBlocking { client.supplement(a(), receipt(), draftA(), schema(), today) }
            }
            assertEquals("YW-4097", supplement.code, "supplement code")
        }

        test("applications: the department asks for more; the citizen supplements; the application is submitted again") {
            val draft = Draft(schema(), NOW).also { closeables += it }
            draft.prefill(schema(), prefill())
            complete(draft)
            val application = runBlocking { client.submit(a(), draft, schema(), today) }
            val (status, body) = moveTo("needs_supplement", ""","message":"请上传白底照片"""", application.receiptNo)
            assertEquals(200, status, "needs_supplement ($body)")
            val asked = runBlocking { client.application(a(), application.receiptNo) }
            assertEquals(ApplicationStatus.NEEDS_SUPPLEMENT, asked.status, "status")
            assertEquals("请上传白底照片", asked.history.last().message, "the department's message")
            assertTrue(!asked.history.last().toString().contains("白底"), "toString leaves out the message")
            draft.set(schema(), "photo", """{"sha256":"${"cd".repeat(32)}","media_type":"image/png","size":23456}""")
            val supplemented = runBlocking { client.supplement(a(), application.receiptNo, draft, schema(), today) }
            assertEquals(ApplicationStatus.SUBMITTED, supplemented.status, "status")
            assertEquals("cd".repeat(32), supplemented.attachments.single().sha256, "the new photo")
            assertEquals(
                listOf(ApplicationStatus.SUBMITTED, ApplicationStatus.NEEDS_SUPPLEMENT, ApplicationStatus.SUBMITTED),
                supplemented.history.map { it.status },
                "history",
            )
            // Newest first; paging with nextBefore.
            val first = runBlocking { client.applications(a(), 1u) }
            assertEquals(listOf(application.receiptNo), first.applications.map { it.receiptNo }, "page 1")
            val before = first.nextBefore ?: fail("nextBefore on page 1")
            val second = runBlocking { client.applications(a(), 1u, before) }
            assertEquals(listOf(receipt()), second.applications.map { it.receiptNo }, "page 2")
        }
    }

    /** The 网证's claims as the wallet's prefill values. */
    fun prefill(): String =
        """{"credential.name":"周八","credential.id_number":"$APPLICATION_CITIZEN_ID_NUMBER",""" +
            """"credential.birth_date":"1990-03-07","credential.sex":"male"}"""

    /** Fills what the senior card still needs (a phone is set already on A's draft; set here otherwise). */
    fun complete(draft: Draft) {
        val s = schema()
        if (draft.value("phone") == null) draft.set(s, "phone", "\"13800138000\"")
        if (draft.value("residence_address") == null) {
            draft.set(s, "residence_address", """{"region":"110101","detail":"东城区东华门街道1号"}""")
        }
        if (draft.value("emergency_contact_name") == null) draft.set(s, "emergency_contact_name", "\"周小八\"")
        if (draft.value("emergency_contact_phone") == null) draft.set(s, "emergency_contact_phone", "\"13700137000\"")
        draft.set(s, "emergency_contact_relation", "\"child\"")
        draft.set(s, "collect_method", "\"pickup\"")
        draft.set(s, "photo", """{"sha256":"${"ab".repeat(32)}","media_type":"image/jpeg","size":12345}""")
        draft.save(NOW + 60)
        val problems = draft.validate(s, today)
        assertEquals(emptyList<Any>(), problems, "a complete draft")
    }

    /** Registers the Civil Affairs Bureau as a service client (admin bearer): its id and secret. */
    fun registerDepartment(): Pair<String, String> {
        val body = """{"name":"民政局办件","scopes":["applications:$CIVIL_AFFAIRS_CODE"]}"""
        val request = HttpRequest.newBuilder(URI.create("$url/v1/admin/service-clients"))
            .header("Authorization", "Bearer $adminToken")
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(body))
            .build()
        val response = http.send(request, HttpResponse.BodyHandlers.ofString())
        assertEquals(201, response.statusCode(), "register service client (${response.body()})")
        val id = jsonString(response.body(), "client_id") ?: fail("no client_id")
        val secret = jsonString(response.body(), "client_secret") ?: fail("no client_secret")
        return id to secret
    }

    /** The department's status change (HTTP Basic): the HTTP status and body. */
    fun moveTo(status: String, extra: String = "", of: String = receipt()): Pair<Int, String> {
        val (id, secret) = department ?: fail("needs the department")
        val basic = "Basic " + Base64.getEncoder().encodeToString("$id:$secret".toByteArray())
        val request = HttpRequest.newBuilder(URI.create("$url/v1/department/applications/$of/status"))
            .header("Authorization", basic)
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString("""{"status":"$status"$extra}"""))
            .build()
        val response = http.send(request, HttpResponse.BodyHandlers.ofString())
        return response.statusCode() to response.body()
    }

    override fun close() {
        closeables.forEach { it.close() }
        credential?.close()
        client.close()
    }
}
