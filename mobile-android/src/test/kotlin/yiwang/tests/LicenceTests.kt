package yiwang.tests

import java.io.File
import java.net.URI
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse
import java.nio.file.Files
import java.time.Duration
import java.time.LocalDate
import java.time.ZoneId
import java.util.Base64
import kotlinx.coroutines.runBlocking
import yiwang.ApiClient
import yiwang.ApplicationStatus
import yiwang.AssuranceMode
import yiwang.ClientConfig
import yiwang.Credential
import yiwang.CryptoSuite
import yiwang.DocumentType
import yiwang.Draft
import yiwang.FormSchema
import yiwang.Issuer
import yiwang.IssuerInfo
import yiwang.LicenceStatus
import yiwang.LicenceUseOutcome
import yiwang.PresentationRequest
import yiwang.Tokens
import yiwang.TrustList
import yiwang.VerifierPolicy
import yiwang.Wallet
import yiwang.YiwangException
import yiwang.softwareKeyStore
import yiwang.verifyPresentation
import yiwang.verifyTrusted

// The e-licence library through the bindings, against the real `yiwang
// serve` that jvm-test.sh starts (`-Dyiwang.server.url`,
// `-Dyiwang.server.admin-token`): the operator lists a civil affairs bureau
// as an issuing authority; the bureau (a service client with
// `licences:<its USCC>`) issues a marriage certificate to a citizen of her
// own; her app syncs it into its wallet, bound to the 网证's device key, and
// a window verifies it against the signed trust list; she applies for
// 婚后户口迁移 with it and the public security bureau (`applications:<its
// code>`) uses it through the library; she reads who used it; the bureau
// revokes it and the next sync takes it out of the wallet.

const val LICENCE_CITIZEN_ID_NUMBER = "350102199205201527"
const val LICENCE_CITIZEN_NAME = "陈静"
const val SPOUSE_ID_NUMBER = "330106199108151232"
/** 福州市鼓楼区民政局 and the marriage certificate (结婚证) type it issues. */
const val CIVIL_AFFAIRS_USCC = "91350100M000100Y43"
const val MARRIAGE_TYPE = "11100000MB0143028R002"
/** 婚后户口迁移 and its department, the public security bureau. */
const val HOUSEHOLD_MOVE_CODE = "11100000000013338W3140000000002"
const val POLICE_CODE = "11100000000013338W"
const val CERTIFICATE_NUMBER = "J350102-2026-00456"
const val WINDOW = "window:350102"

fun licenceTests() {
    val url = System.getProperty("yiwang.server.url")
    val adminToken = System.getProperty("yiwang.server.admin-token")
    if (url == null || adminToken == null) {
        test("licences: a yiwang server to talk to (-Dyiwang.server.url, started by jvm-test.sh)") {
            fail("no server URL given")
        }
        return
    }
    LicenceScenario(url, adminToken).use { it.run() }
}

private class LicenceScenario(val url: String, val adminToken: String) : AutoCloseable {
    val client = ApiClient(ClientConfig(baseUrl = url))
    val keyStore = KotlinKeyStore()
    val http: HttpClient = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build()
    val today: String = LocalDate.now(ZoneId.of("Asia/Shanghai")).toString()
    val dir: File = Files.createTempDirectory("yiwang-licences").toFile()
    var wallet: Wallet? = null
    var networkIdCredential: Credential? = null
    var tokens: Tokens? = null
    var issuer: IssuerInfo? = null
    var trustList: TrustList? = null
    /** The authority's key id, as its registration answered it. */
    var authorityKid: String? = null
    /** The bureau's service client (id, secret). */
    var civilAffairs: Pair<String, String>? = null
    var police: Pair<String, String>? = null
    var identifier: String? = null
    var cursor: Long = 0
    /** The synced licence, kept in memory after the wallet lets it go. */
    var licence: Credential? = null
    var receiptNo: String? = null
    val closeables = mutableListOf<AutoCloseable>()

    fun token(): String = tokens?.accessToken ?: fail("needs the enrol-and-login step")
    fun wallet(): Wallet = wallet ?: fail("needs the enrol-and-login step")
    fun trustList(): TrustList = trustList ?: fail("needs the trust list step")
    fun kid(): String = authorityKid ?: fail("needs the authority step")
    fun identifier(): String = identifier ?: fail("needs the issue step")
    fun licence(): Credential = licence ?: fail("needs the sync step")
    fun receipt(): String = receiptNo ?: fail("needs the application step")
    fun now(): Long = System.currentTimeMillis() / 1000

    fun run() {
        test("licences: a citizen enrols, keeps her 网证 in the wallet and signs in; the wallet holds no licence yet") {
            val enrolment = enrolCitizen(client, keyStore, "licence-device", LICENCE_CITIZEN_NAME, LICENCE_CITIZEN_ID_NUMBER)
            networkIdCredential = enrolment.credential
            tokens = loginCitizen(client, enrolment.credential, keyStore, "licence-device", "手机")
            val opened = runBlocking { Wallet.open(File(dir, "wallet.db").path, keyStore, "licence-wallet", CryptoSuite.GM) }
            wallet = opened
            runBlocking { opened.storeCredential(enrolment.credential, now()) }
            assertEquals(1, runBlocking { opened.credentials() }.also { l -> l.forEach { it.close() } }.size, "the 网证 stored")
            assertEquals(0, runBlocking { opened.licences() }.size, "no licence")
            // Nothing issued yet: an empty page, the cursor where it was.
            val sync = runBlocking { client.syncLicences(token(), opened, 0, keyStore, "licence-device") }
            assertEquals(emptyList<Any>(), sync.licences, "licences")
            assertEquals(0L, sync.next, "next")
            assertEquals(false, sync.more, "more")
        }

        test("licences: the operator registers the civil affairs bureau (admin bearer); the trust list, verified against the pinned issuer key, lists it and the 网证 issuer") {
            val body = """{"uscc":"$CIVIL_AFFAIRS_USCC","name":"福州市鼓楼区民政局","region":"350100",""" +
                """"licence_types":["$MARRIAGE_TYPE"]}"""
            val (status, answer) = post("/v1/admin/authorities", body, "Bearer $adminToken")
            assertEquals(201, status, "register the authority ($answer)")
            assertTrue(answer.contains("\"local\":true"), "this library's own authority: $answer")
            authorityKid = jsonString(answer, "kid") ?: fail("no kid in $answer")
            val info = runBlocking { client.issuer() }
            issuer = info
            val list = runBlocking { client.trustList(info.publicKeyPem, now()) }.also { closeables += it }
            trustList = list
            assertTrue(list.issuedAt() in now() - 60..now() + 60, "issued now: ${list.issuedAt()}")
            assertEquals(24u * 3600u, list.maxAgeSecs(), "maxAgeSecs")
            val authorities = list.authorities()
            val netId = authorities.singleOrNull { it.networkId } ?: fail("one 网证 issuer in $authorities")
            assertEquals(null, netId.uscc, "the 网证 issuer has no USCC")
            assertEquals(listOf(info.kid), netId.keys.map { it.keyId }, "the 网证 issuer's key")
            assertEquals(info.publicKeyPem.trim(), netId.keys.single().publicKeyPem.trim(), "its PEM")
            val bureau = authorities.singleOrNull { it.uscc == CIVIL_AFFAIRS_USCC } ?: fail("the bureau in $authorities")
            assertEquals("福州市鼓楼区民政局", bureau.name, "name")
            assertEquals("350100", bureau.region, "region")
            assertEquals(false, bureau.networkId, "not a 网证 issuer")
            assertEquals(listOf(MARRIAGE_TYPE), bureau.licenceTypes, "licence types")
            val key = bureau.keys.singleOrNull() ?: fail("one key: ${bureau.keys}")
            assertEquals(kid(), key.keyId, "the registered key")
            assertEquals(CryptoSuite.GM, key.suite, "an SM2 key")
            assertEquals(null, key.notAfter, "in service")
        }

        test("licences: the bureau issues a marriage certificate; the app syncs it into its wallet, bound to the 网证's device key; a second sync brings nothing") {
            civilAffairs = registerServiceClient("福州市鼓楼区民政局", "licences:$CIVIL_AFFAIRS_USCC")
            val body = """{"issuer_uscc":"$CIVIL_AFFAIRS_USCC","number":"$CERTIFICATE_NUMBER","type_code":"$MARRIAGE_TYPE",""" +
                """"holder":{"id_number":"$LICENCE_CITIZEN_ID_NUMBER","name":"$LICENCE_CITIZEN_NAME"},""" +
                """"issue_date":"2026-05-20","jurisdiction":"350102"}"""
            val (status, issued) = post("/v1/library/licences", body, basic(civilAffairs))
            assertEquals(201, status, "issue ($issued)")
            val id = jsonString(issued, "identifier") ?: fail("no identifier in $issued")
            assertTrue(id.contains(".$CIVIL_AFFAIRS_USCC.J350102202600456."), "GB/T 36904 identifier: $id")
            assertEquals(kid(), jsonString(issued, "kid"), "signed with the authority's key")
            identifier = id
            val statusIndex = jsonNumber(issued, "status_index") ?: fail("no status_index in $issued")

            val sync = runBlocking { client.syncLicences(token(), wallet(), cursor, keyStore, "licence-device") }
            val synced = sync.licences.singleOrNull() ?: fail("one licence synced: ${sync.licences}")
            assertEquals(id, synced.identifier, "identifier")
            assertEquals(MARRIAGE_TYPE, synced.typeCode, "typeCode")
            assertEquals("结婚证", synced.name, "name")
            assertEquals(LicenceStatus.ACTIVE, synced.status, "status")
            assertEquals(1L, synced.version, "version")
            assertEquals(true, synced.stored, "stored")
            assertEquals(false, synced.removed, "removed")
            assertEquals(false, sync.more, "more")
            assertTrue(sync.next > 0, "the cursor moved: ${sync.next}")
            assertTrue(!synced.toString().contains("J350102202600456"), "toString leaves out the identifier: $synced")
            cursor = sync.next

            val stored = runBlocking { wallet().licence(id) } ?: fail("the wallet has the licence")
            licence = stored.also { closeables += it }
            assertEquals(DocumentType.LICENCE, stored.documentType(), "documentType")
            assertEquals("结婚证", stored.claim("licence_name"), "licence_name")
            assertEquals(CERTIFICATE_NUMBER, stored.claim("number"), "number")
            assertEquals(LICENCE_CITIZEN_NAME, stored.claim("holder_name"), "holder_name")
            assertEquals(LICENCE_CITIZEN_ID_NUMBER, stored.claim("holder_code"), "holder_code")
            assertEquals(CIVIL_AFFAIRS_USCC, stored.claim("issuer_code"), "issuer_code")
            assertEquals(statusIndex.toUInt(), stored.statusIndex(), "statusIndex")
            assertEquals(1, runBlocking { wallet().licences() }.also { l -> l.forEach { it.close() } }.size, "one licence")
            // It prefills the marriage certificate's number of a form.
            assertTrue(runBlocking { wallet().prefillValues() }.contains(CERTIFICATE_NUMBER), "prefill values")

            val again = runBlocking { client.syncLicences(token(), wallet(), cursor, keyStore, "licence-device") }
            assertEquals(emptyList<Any>(), again.licences, "nothing new")
            assertEquals(cursor, again.next, "the cursor stays")
        }

        test("licences: a window verifies the licence and the 网证 against the trust list and the authority's status list; trusting the 网证 issuer alone, the licence's issuer is unknown (YW-1403)") {
            val statusList = runBlocking { client.statusList(kid()) }
            val presented = licence().present(licenceRequest(), keyStore, "licence-device", now()).text
            val verified = verifyTrusted(presented, trustList(), policy(listOf(statusList)))
            assertEquals(DocumentType.LICENCE, verified.documentType, "documentType")
            assertEquals(kid(), verified.issuerKeyId, "issuerKeyId")
            assertEquals(MARRIAGE_TYPE, verified.claims["type_code"], "type_code")
            assertEquals(identifier(), verified.claims["identifier"], "identifier")
            assertEquals(CIVIL_AFFAIRS_USCC, verified.claims["issuer_code"], "issuer_code")
            assertEquals("结婚证", verified.claims["licence_name"], "licence_name")
            assertEquals(AssuranceMode.PIN, verified.mode, "mode")

            val netIdRequest = PresentationRequest(listOf("name_masked", "age_over_18"), WINDOW, null, AssuranceMode.PIN, 60u)
            val netId = networkIdCredential!!.present(netIdRequest, keyStore, "licence-device", now()).text
            val person = verifyTrusted(netId, trustList(), policy())
            assertEquals(DocumentType.NETWORK_ID, person.documentType, "the 网证")
            assertEquals(issuer!!.kid, person.issuerKeyId, "by the 网证 issuer")
            assertEquals("陈*", person.claims["name_masked"], "name_masked")

            val unknown = assertThrows<YiwangException.Rejected>("verifyPresentation with the 网证 issuer only") {
                verifyPresentation(presented, policy().copy(trustedIssuers = listOf(issuer!!.publicKeyPem)))
            }
            assertEquals("YW-1403", unknown.code, "code")
            // A licence presentation must show its type to be checked against the list.
            val noType = PresentationRequest(listOf("licence_name"), WINDOW, null, AssuranceMode.PIN, 60u)
            val bare = licence().present(noType, keyStore, "licence-device", now()).text
            val refused = assertThrows<YiwangException.InvalidInput>("verifyTrusted without type_code") {
                verifyTrusted(bare, trustList(), policy())
            }
            assertEquals("YW-1418", refused.code, "code")
        }

        test("licences: she applies for 婚后户口迁移 with the certificate; the police use it by reference, and by type once she authorises it (YW-4035 before); licenceUses lists each") {
            val matter = runBlocking { client.matter(HOUSEHOLD_MOVE_CODE) }
            assertEquals(POLICE_CODE, matter.department.code, "department")
            assertEquals(listOf(MARRIAGE_TYPE), matter.requiredLicences, "requiredLicences")
            val schema = FormSchema.fromJson(matter.formJson ?: fail("an online matter has a form")).also { closeables += it }
            val draft = Draft(schema, NOW).also { closeables += it }
            val filled = draft.prefill(schema, runBlocking { wallet().prefillValues() })
            assertTrue(filled.containsAll(listOf("name", "id_number", "certificate_number")), "prefilled: $filled")
            assertEquals("\"$CERTIFICATE_NUMBER\"", draft.value("certificate_number"), "from the licence")
            draft.set(schema, "marriage_certificate", licence().licenceReference("婚后户口迁移"))
            draft.set(schema, "phone", "\"13800138000\"")
            draft.set(schema, "spouse_name", "\"林强\"")
            draft.set(schema, "spouse_id_number", "\"$SPOUSE_ID_NUMBER\"")
            draft.set(schema, "move_to", """{"region":"330106","detail":"西湖区文三路100号"}""")
            draft.save(NOW + 60)
            assertEquals(emptyList<Any>(), draft.validate(schema, today), "a complete draft")
            val application = runBlocking { client.submit(token(), draft, schema, today) }
            assertEquals(ApplicationStatus.SUBMITTED, application.status, "status")
            val ref = application.licenceRefs.singleOrNull() ?: fail("one licence ref: ${application.licenceRefs}")
            assertEquals("marriage_certificate", ref.field, "field")
            assertEquals(identifier(), ref.licenceId, "licenceId")
            assertEquals("婚后户口迁移", ref.reason, "reason")
            receiptNo = application.receiptNo

            police = registerServiceClient("鼓楼公安分局", "applications:$POLICE_CODE")
            val path = "/v1/department/applications/${receipt()}/licences"
            val (status, used) = post(path, """{"licence_id":"${identifier()}"}""", basic(police))
            assertEquals(200, status, "use by reference ($used)")
            assertEquals("婚后户口迁移", jsonString(used, "reason"), "the citizen's reason")
            assertTrue((jsonString(used, "attestation") ?: "").isNotEmpty(), "an attestation")
            // By type, before she authorised it: refused and recorded.
            val (before, refused) = post(path, """{"licence_type":"$MARRIAGE_TYPE"}""", basic(police))
            assertEquals(403, before, "not authorised ($refused)")
            assertEquals("YW-4035", jsonString(refused, "code"), "code")
            runBlocking { client.authoriseLicence(token(), receipt(), MARRIAGE_TYPE, "核验婚姻状况") }
            val (after, byType) = post(path, """{"licence_type":"$MARRIAGE_TYPE"}""", basic(police))
            assertEquals(200, after, "authorised ($byType)")
            assertEquals(identifier(), jsonString(byType, "licence_id"), "her licence of that type")
            assertEquals("核验婚姻状况", jsonString(byType, "reason"), "the authorisation's reason")

            val uses = runBlocking { client.licenceUses(token()) }
            assertEquals(
                listOf(LicenceUseOutcome.USED, LicenceUseOutcome.REFUSED, LicenceUseOutcome.USED),
                uses.map { it.outcome },
                "newest first: $uses",
            )
            assertTrue(uses.all { it.department == POLICE_CODE && it.receiptNo == receipt() }, "the police, this application: $uses")
            assertEquals(listOf(null, "YW-4035", null), uses.map { it.code }, "codes")
            assertEquals(listOf("核验婚姻状况", null, "婚后户口迁移"), uses.map { it.reason }, "reasons")
            val first = uses.last()
            assertEquals(identifier(), first.licenceId, "licenceId")
            assertEquals(MARRIAGE_TYPE, first.typeCode, "typeCode")
            assertEquals("结婚证", first.licenceName, "licenceName")
            assertTrue(uses.zipWithNext().all { (x, y) -> x.atMs >= y.atMs }, "newest first")
            assertTrue(!first.toString().contains("婚后户口迁移") && !first.toString().contains("J350102"), "toString masked: $first")
        }

        test("licences: the bureau corrects her name (PUT): the next sync stores version 002 and takes version 001 out of the wallet; the police using the identifier she shared get the current version") {
            val old = identifier()
            val (status, updated) = send(
                "/v1/library/licences/$old",
                """{"holder_name":"陈静怡","reason":"持证人姓名更正"}""",
                basic(civilAffairs),
                "PUT",
            )
            assertEquals(200, status, "update ($updated)")
            val id = jsonString(updated, "identifier") ?: fail("no identifier in $updated")
            assertEquals(old.dropLast(6), id.dropLast(6), "the same type, issuer and serial: $id")
            assertTrue(id.contains(".002."), "version 002: $id")
            val sync = runBlocking { client.syncLicences(token(), wallet(), cursor, keyStore, "licence-device") }
            val synced = sync.licences.singleOrNull() ?: fail("one change: ${sync.licences}")
            assertEquals(id, synced.identifier, "identifier")
            assertEquals(2L, synced.version, "version")
            assertEquals(true, synced.stored, "stored")
            cursor = sync.next
            assertEquals(null, runBlocking { wallet().licence(old) }, "version 001 gone from the wallet")
            val stored = runBlocking { wallet().licence(id) } ?: fail("version 002 in the wallet")
            assertEquals("陈静怡", stored.claim("holder_name"), "the corrected name")
            assertEquals(1, runBlocking { wallet().licences() }.also { l -> l.forEach { it.close() } }.size, "one licence")
            identifier = id
            licence = stored.also { closeables += it }

            val (used, answer) = post(
                "/v1/department/applications/${receipt()}/licences",
                """{"licence_id":"$old"}""",
                basic(police),
            )
            assertEquals(200, used, "use by the shared identifier ($answer)")
            assertEquals(id, jsonString(answer, "licence_id"), "the current version")
        }

        test("licences: the bureau revokes it: the next sync removes it from the wallet; the window refuses it (YW-1413); the police's next use is refused (YW-4088) and recorded") {
            val (status, answer) = post(
                "/v1/library/licences/${identifier()}/status",
                """{"status":"revoked","reason":"登记信息有误，已撤销"}""",
                basic(civilAffairs),
            )
            assertEquals(200, status, "revoke ($answer)")
            assertEquals("revoked", jsonString(answer, "status"), "status")
            val sync = runBlocking { client.syncLicences(token(), wallet(), cursor, keyStore, "licence-device") }
            val synced = sync.licences.singleOrNull() ?: fail("one change: ${sync.licences}")
            assertEquals(identifier(), synced.identifier, "identifier")
            assertEquals(LicenceStatus.REVOKED, synced.status, "status")
            assertEquals(3L, synced.version, "version")
            assertEquals(false, synced.stored, "not stored")
            assertEquals(true, synced.removed, "the wallet's copy deleted")
            assertTrue(sync.next > cursor, "the cursor moved: ${sync.next} > $cursor")
            cursor = sync.next
            assertEquals(null, runBlocking { wallet().licence(identifier()) }, "gone from the wallet")
            assertEquals(0, runBlocking { wallet().licences() }.size, "no licence")
            assertEquals(false, runBlocking { wallet().deleteLicence(identifier()) }, "nothing left to delete")
            assertEquals(1, runBlocking { wallet().credentials() }.also { l -> l.forEach { it.close() } }.size, "the 网证 stays")

            // A copy kept elsewhere is refused by a window holding the new status list.
            val statusList = runBlocking { client.statusList(kid()) }
            val presented = licence().present(licenceRequest(), keyStore, "licence-device", now()).text
            val revoked = assertThrows<YiwangException.Rejected>("verifyTrusted after revocation") {
                verifyTrusted(presented, trustList(), policy(listOf(statusList)))
            }
            assertEquals("YW-1413", revoked.code, "code")

            val (refusedStatus, refused) = post(
                "/v1/department/applications/${receipt()}/licences",
                """{"licence_id":"${identifier()}"}""",
                basic(police),
            )
            assertEquals(409, refusedStatus, "revoked ($refused)")
            assertEquals("YW-4088", jsonString(refused, "code"), "code")
            val latest = runBlocking { client.licenceUses(token()) }.first()
            assertEquals(LicenceUseOutcome.REFUSED, latest.outcome, "outcome")
            assertEquals("YW-4088", latest.code, "code")
            assertEquals(identifier(), latest.licenceId, "licenceId")
        }

        test("licences: bad input: a 201-character reason is InvalidInput YW-1807 before any request; an unknown type Rejected YW-4741; another anchor Rejected YW-1421; a list past its age YW-1422") {
            val tooLong = assertThrows<YiwangException.InvalidInput>("authoriseLicence with 201 characters") {
                runBlocking { client.authoriseLicence(token(), receipt(), MARRIAGE_TYPE, "因".repeat(201)) }
            }
            assertEquals("YW-1807", tooLong.code, "code")
            // 200 characters are fine.
            runBlocking { client.authoriseLicence(token(), receipt(), MARRIAGE_TYPE, "因".repeat(200)) }
            val unknownType = assertThrows<YiwangException.Rejected>("authoriseLicence of an unknown type") {
                runBlocking { client.authoriseLicence(token(), receipt(), "11100000MB0143028R999", "核验") }
            }
            assertEquals("YW-4741", unknownType.code, "code")

            val otherStore = softwareKeyStore()
            otherStore.generate("other", CryptoSuite.GM)
            val other = Issuer(otherStore, "other", ByteArray(32) { 9 })
            val wrong = assertThrows<YiwangException.Rejected>("trustList with another anchor") {
                runBlocking { client.trustList(other.publicKeyPem(), now()) }
            }
            assertEquals("YW-1421", wrong.code, "code")
            other.close()
            val old = assertThrows<YiwangException.Rejected>("trustList a day and a minute later") {
                runBlocking { client.trustList(issuer!!.publicKeyPem, now() + 24 * 3600 + 60) }
            }
            assertEquals("YW-1422", old.code, "code")
            assertThrows<YiwangException.Crypto>("an anchor that is not a key") {
                runBlocking { client.trustList("not a key", now()) }
            }
        }
    }

    fun licenceRequest() = PresentationRequest(
        disclose = listOf("licence_name", "type_code", "identifier", "issuer_code"),
        audience = WINDOW,
        nonce = null,
        mode = AssuranceMode.PIN,
        validitySecs = 60u,
    )

    /** A window's policy (its trusted issuers come from the trust list in verifyTrusted). */
    fun policy(statusLists: List<ByteArray> = listOf()) = VerifierPolicy(
        trustedIssuers = listOf(),
        audience = WINDOW,
        nonce = null,
        now = now(),
        maxSkewSecs = 30,
        statusLists = statusLists,
        requireStatus = statusLists.isNotEmpty(),
    )

    /** Registers a service client with one scope (admin bearer): its id and secret. */
    fun registerServiceClient(name: String, scope: String): Pair<String, String> {
        val (status, body) = post("/v1/admin/service-clients", """{"name":"$name","scopes":["$scope"]}""", "Bearer $adminToken")
        assertEquals(201, status, "register service client ($body)")
        val id = jsonString(body, "client_id") ?: fail("no client_id")
        val secret = jsonString(body, "client_secret") ?: fail("no client_secret")
        return id to secret
    }

    fun basic(client: Pair<String, String>?): String {
        val (id, secret) = client ?: fail("needs the service client")
        return "Basic " + Base64.getEncoder().encodeToString("$id:$secret".toByteArray())
    }

    /** A JSON POST with [authorization]: the HTTP status and body. */
    fun post(path: String, body: String, authorization: String): Pair<Int, String> =
        send(path, body, authorization, "POST")

    /** A JSON request of [method] with [authorization]: the HTTP status and body. */
    fun send(path: String, body: String, authorization: String, method: String): Pair<Int, String> {
        val request = HttpRequest.newBuilder(URI.create("$url$path"))
            .header("Authorization", authorization)
            .header("Content-Type", "application/json")
            .method(method, HttpRequest.BodyPublishers.ofString(body))
            .build()
        val response = http.send(request, HttpResponse.BodyHandlers.ofString())
        return response.statusCode() to response.body()
    }

    override fun close() {
        closeables.forEach { it.close() }
        networkIdCredential?.close()
        wallet?.let {
            runBlocking { it.shutdown() }
            it.close()
        }
        client.close()
        dir.deleteRecursively()
    }
}

/** The integer value of `"key": 123` in a flat JSON text. */
fun jsonNumber(json: String, key: String): Long? =
    Regex("\"" + Regex.escape(key) + "\"\\s*:\\s*(-?\\d+)").find(json)?.groupValues?.get(1)?.toLong()
