package yiwang.tests

import java.io.File
import java.nio.file.Files
import kotlinx.coroutines.runBlocking
import yiwang.Credential
import yiwang.CryptoSuite
import yiwang.DocumentType
import yiwang.Draft
import yiwang.FormSchema
import yiwang.Wallet
import yiwang.YiwangException
import yiwang.encodeQr
import yiwang.maskPhone
import yiwang.renderQrSvg
import yiwang.softwareKeyStoreIn

/** A driving licence (机动车驾驶证) with a valid GB/T 36904 identifier, ending 2026-12-10. */
const val LICENCE_ID = "1.2.156.3005.2.11100000000013338W011.91350100M000100Y43.J350100202600123.001.W"
val LICENCE_JSON = """
    {"name": "机动车驾驶证", "identifier": "$LICENCE_ID", "number": "350100202600123",
     "issuer_name": "福州市公安局交通警察支队", "issue_date": "2020-12-10", "holder_name": "张三",
     "holder_code": "$ID_NUMBER", "holder_code_type": "111", "valid_from": "2020-12-10",
     "valid_until": "2026-12-10", "jurisdiction": "350100"}
""".trimIndent()

/**
 * The rest of the surface: licences end to end into a form (用证 with a reason),
 * credential accessors and byte round trips, draft history, merge and
 * submission, the wallet's draft and licence calls, QR helpers, the directory
 * key store.
 */
fun documentTests(fx: Fixture) {
    test("credential: accessors and bytes round trip") {
        val c = fx.credential
        assertEquals(DocumentType.NETWORK_ID, c.documentType(), "type")
        assertEquals("张三", c.claim("name"), "own name for the holder's screen")
        assertEquals(null, c.claim("shoe_size"), "unknown claim")
        assertTrue(c.expires() > c.notBefore(), "validity")
        assertEquals(0u, c.statusIndex(), "status index")
        Credential.fromBytes(c.toBytes()).use { copy -> assertEquals(c.networkId(), copy.networkId(), "round trip") }
        assertThrows<YiwangException.Rejected>("garbage bytes") { Credential.fromBytes(byteArrayOf(1, 2, 3)) }
    }

    test("licence: issue, present, reference with a reason; wallet lists and expiry") {
        val licence = fx.issuer.issueLicence(LICENCE_JSON, fx.devicePublicKey, 1u, NOW - 60)
        assertEquals(DocumentType.LICENCE, licence.documentType(), "type")
        assertEquals("2026-12-10", licence.claim("valid_until"), "valid until")
        val reference = licence.licenceReference("办理驾驶证期满换证")
        assertTrue(reference.contains(LICENCE_ID) && reference.contains("办理驾驶证期满换证"), "reference")
        val tooLong = assertThrows<YiwangException.InvalidInput>("reason over 200 characters") {
            licence.licenceReference("因".repeat(201))
        }
        assertEquals("YW-1418", tooLong.code, "code")
        assertThrows<YiwangException.InvalidInput>("bad licence JSON") {
            fx.issuer.issueLicence("{}", fx.devicePublicKey, 2u, NOW)
        }

        val dir = Files.createTempDirectory("yiwang-licence").toFile()
        runBlocking {
            val wallet = Wallet.open(File(dir, "w.db").path, fx.keyStore, "licence-wallet", CryptoSuite.GM)
            wallet.storeCredential(licence, NOW)
            assertEquals(1, wallet.licences().also { l -> l.forEach { it.close() } }.size, "licences")
            assertEquals(1, wallet.licencesExpiring("2026-11-22", 30u).also { l -> l.forEach { it.close() } }.size, "expiring in 30 days")
            assertEquals(0, wallet.licencesExpiring("2026-11-22", 7u).size, "not within 7 days")
            assertThrows<YiwangException.InvalidInput>("bad date") { runBlocking { wallet.licencesExpiring("22/11/2026", 7u) } }

            // The driving-licence renewal form: prefilled from the licence, the licence used by reference.
            val schema = FormSchema.fromJson(File(repoRoot(), "core/forms/driving-licence-renewal.json").readText())
            val draft = Draft(schema, NOW)
            val filled = draft.prefill(schema, wallet.prefillValues())
            assertTrue("licence_number" in filled && draft.isGovernment("licence_number"), "licence number from the licence")
            assertEquals("\"350100202600123\"", draft.value("licence_number"), "value")
            draft.set(schema, "current_licence", reference)
            draft.save(NOW)
            wallet.saveDraft(draft, NOW)
            val problems = draft.validate(schema, "2026-11-22")
            assertTrue(problems.none { it.path.endsWith("current_licence") }, "the reference is valid: $problems")
            wallet.draft(draft.id())!!.use { stored -> assertEquals(draft.toJson(), stored.toJson(), "stored draft") }
            assertEquals(true, wallet.deleteDraft(draft.id()), "deleted")
            assertEquals(null, wallet.draft(draft.id()), "gone")
            draft.close()
            schema.close()
            wallet.shutdown()
            wallet.close()
        }
        licence.close()
        dir.deleteRecursively()
    }

    test("drafts: history, undo, JSON round trip, merge conflicts, submission") {
        FormSchema.fromJson(File(repoRoot(), "core/forms/senior-card.json").readText()).use { schema ->
            val draft = Draft(schema, NOW)
            draft.set(schema, "phone", "\"13800138000\"")
            assertEquals(1u, draft.save(NOW), "revision 1")
            draft.set(schema, "phone", "\"13900139000\"")
            assertEquals(2u, draft.save(NOW + 10), "revision 2")
            assertEquals(2u, draft.save(NOW + 20), "unchanged: no new revision")
            draft.undoTo(1u, NOW + 30)
            assertEquals("\"13800138000\"", draft.value("phone"), "undone")
            assertEquals(3u, draft.revisionCount(), "undo is a new revision")
            draft.clear(schema, "phone")
            assertEquals(null, draft.value("phone"), "cleared")

            val copy = Draft.fromJson(draft.toJson())
            assertEquals(draft.id(), copy.id(), "same draft")
            // Two devices edit the same field differently: a conflict, never dropped.
            val base = "{}"
            copy.set(schema, "emergency_contact_name", "\"李四\"")
            val conflicts = copy.mergeRemote(base, """{"emergency_contact_name": "王五", "phone": "13700137000"}""", NOW + 40)
            assertEquals(listOf("emergency_contact_name"), conflicts.map { it.field }, "conflict")
            assertEquals("\"13700137000\"", copy.value("phone"), "the other device's change merged")

            val result = draft.submission(schema, "2026-11-22")
            assertTrue(result.payload == null && result.problems.any { it.code == "YW-1601" }, "incomplete: not submitted")
            copy.close()
            draft.close()
        }
    }

    test("wallet: purge of expired drafts") {
        val dir = Files.createTempDirectory("yiwang-purge").toFile()
        runBlocking {
            val wallet = Wallet.open(File(dir, "w.db").path, fx.keyStore, "purge-wallet", CryptoSuite.INTL)
            FormSchema.fromJson(File(repoRoot(), "core/forms/senior-card.json").readText()).use { schema ->
                Draft(schema, NOW - 40L * 86400).use { old ->
                    old.set(schema, "phone", "\"13800138000\"")
                    old.save(NOW - 40L * 86400)
                    wallet.saveDraft(old, NOW - 40L * 86400)
                }
            }
            assertEquals(1u, wallet.purgeExpiredDrafts(NOW, 30L * 86400), "purged")
            wallet.shutdown()
            wallet.close()
        }
        dir.deleteRecursively()
    }

    test("qr helpers, masking, directory key store") {
        val qr = encodeQr("YW1:ABC")
        assertEquals(qr.modules.size, (qr.width * qr.width).toInt(), "matrix")
        assertTrue(renderQrSvg("YW1:ABC", 4u).startsWith("<svg"), "svg")
        assertEquals("138****8000", maskPhone("13800138000"), "phone mask")
        val dir = Files.createTempDirectory("yiwang-keys").toFile()
        val first = softwareKeyStoreIn(dir.path)
        val public = first.generate("device", CryptoSuite.INTL)
        val again = softwareKeyStoreIn(dir.path)
        assertTrue(public.contentEquals(again.publicKey("device")), "persisted key")
        (first as? AutoCloseable)?.close()
        (again as? AutoCloseable)?.close()
        dir.deleteRecursively()
    }
}
